"""The token app's settings, each read when used (never at import time).

Reading late keeps ``override_settings`` and pytest-django's ``settings``
fixture working without module reloads.

===============================  ===========================  ======================================
Setting                          Default                      Meaning
===============================  ===========================  ======================================
TOKENS_ACCESS_SECRET             (required)                   HMAC key for access tokens
TOKENS_REFRESH_SECRET            (required)                   HMAC key for refresh tokens
TOKENS_ACCESS_SECRET_FALLBACKS   []                           old access keys still accepted
TOKENS_REFRESH_SECRET_FALLBACKS  []                           old refresh keys still accepted
TOKENS_ALGORITHM                 "HS256"                      HMAC algorithm of refresh tokens
TOKENS_ACCESS_ALGORITHM          TOKENS_ALGORITHM             HS256, or EdDSA / ES256 / RS256 (key files)
TOKENS_ACCESS_PRIVATE_KEY_FILE   ""                           PEM private key signing access tokens
TOKENS_ACCESS_PUBLIC_KEY_        []                           PEM files of other accepted access keys
  FALLBACK_FILES                                              (retired or next; public part used)
TOKENS_AUDIENCE                  None                         ``aud`` of access tokens, checked if set
TOKENS_JWKS_MAX_AGE              300 (seconds)                Cache-Control max-age of the JWKS
TOKENS_ACCESS_LIFETIME           5 minutes                    lifetime of an access token
TOKENS_REFRESH_LIFETIME          14 days                      refresh token / idle session life
TOKENS_LEEWAY                    10 seconds                   clock skew tolerated on exp/iat
TOKENS_ISSUER                    "authproject"                the ``iss`` claim, required on verify
TOKENS_MAX_TOKEN_BYTES           4096                         longer cookies are refused unparsed
TOKENS_ACCESS_COOKIE             "access_token"               cookie names
TOKENS_REFRESH_COOKIE            "refresh_token"
TOKENS_COOKIE_DOMAIN             None                         host-only cookies by default
TOKENS_COOKIE_SECURE             not DEBUG                    Secure attribute
TOKENS_COOKIE_SAMESITE           "Lax"                        SameSite attribute
TOKENS_REFRESH_COOKIE_PATH       "/"                          see cookies.py for why it is "/"
TOKENS_ROTATION_GRACE            10 seconds                   two tabs refreshing at once are not theft
TOKENS_IMMEDIATE_REVOCATION      on with a shared cache       token_version checked per request
TOKENS_VERSION_CACHE_TIMEOUT     1 hour (shared), 30 s local  how long a cached token_version is trusted
TOKENS_PRUNE_REVOKED_AFTER       30 days                      prune_sessions keeps revoked rows this long
===============================  ===========================  ======================================
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


class _Settings:
    @property
    def ACCESS_SECRET(self) -> str:
        return settings.TOKENS_ACCESS_SECRET

    @property
    def REFRESH_SECRET(self) -> str:
        return settings.TOKENS_REFRESH_SECRET

    @property
    def ACCESS_SECRET_FALLBACKS(self) -> list[str]:
        return list(getattr(settings, "TOKENS_ACCESS_SECRET_FALLBACKS", []))

    @property
    def REFRESH_SECRET_FALLBACKS(self) -> list[str]:
        return list(getattr(settings, "TOKENS_REFRESH_SECRET_FALLBACKS", []))

    @property
    def ALGORITHM(self) -> str:
        return getattr(settings, "TOKENS_ALGORITHM", "HS256")

    @property
    def ACCESS_ALGORITHM(self) -> str:
        return getattr(settings, "TOKENS_ACCESS_ALGORITHM", None) or self.ALGORITHM

    @property
    def ACCESS_PRIVATE_KEY_FILE(self) -> str:
        return str(getattr(settings, "TOKENS_ACCESS_PRIVATE_KEY_FILE", "") or "")

    @property
    def ACCESS_PUBLIC_KEY_FALLBACK_FILES(self) -> list[str]:
        return [str(path) for path in getattr(settings, "TOKENS_ACCESS_PUBLIC_KEY_FALLBACK_FILES", [])]

    @property
    def AUDIENCE(self) -> str | None:
        return getattr(settings, "TOKENS_AUDIENCE", None) or None

    @property
    def JWKS_MAX_AGE(self) -> int:
        return getattr(settings, "TOKENS_JWKS_MAX_AGE", 300)

    @property
    def ACCESS_LIFETIME(self) -> timedelta:
        return getattr(settings, "TOKENS_ACCESS_LIFETIME", timedelta(minutes=5))

    @property
    def REFRESH_LIFETIME(self) -> timedelta:
        return getattr(settings, "TOKENS_REFRESH_LIFETIME", timedelta(days=14))

    @property
    def LEEWAY(self) -> timedelta:
        return getattr(settings, "TOKENS_LEEWAY", timedelta(seconds=10))

    @property
    def ISSUER(self) -> str:
        return getattr(settings, "TOKENS_ISSUER", "authproject")

    @property
    def MAX_TOKEN_BYTES(self) -> int:
        return getattr(settings, "TOKENS_MAX_TOKEN_BYTES", 4096)

    @property
    def ACCESS_COOKIE(self) -> str:
        return getattr(settings, "TOKENS_ACCESS_COOKIE", "access_token")

    @property
    def REFRESH_COOKIE(self) -> str:
        return getattr(settings, "TOKENS_REFRESH_COOKIE", "refresh_token")

    @property
    def COOKIE_DOMAIN(self) -> str | None:
        return getattr(settings, "TOKENS_COOKIE_DOMAIN", None)

    @property
    def COOKIE_SECURE(self) -> bool:
        return getattr(settings, "TOKENS_COOKIE_SECURE", not settings.DEBUG)

    @property
    def COOKIE_SAMESITE(self) -> str:
        return getattr(settings, "TOKENS_COOKIE_SAMESITE", "Lax")

    @property
    def REFRESH_COOKIE_PATH(self) -> str:
        return getattr(settings, "TOKENS_REFRESH_COOKIE_PATH", "/")

    @property
    def ROTATION_GRACE(self) -> timedelta:
        return getattr(settings, "TOKENS_ROTATION_GRACE", timedelta(seconds=10))

    @property
    def SHARED_CACHE(self) -> bool:
        """True when the default cache is seen by every app server."""
        return settings.CACHES["default"]["BACKEND"] not in _LOCAL_CACHES

    @property
    def IMMEDIATE_REVOCATION(self) -> bool:
        return getattr(settings, "TOKENS_IMMEDIATE_REVOCATION", self.SHARED_CACHE)

    @property
    def VERSION_CACHE_TIMEOUT(self) -> int:
        # A per-process cache cannot be written through for other workers, so
        # the entry must age out quickly; a shared one is always current.
        default = 3600 if self.SHARED_CACHE else 30
        return getattr(settings, "TOKENS_VERSION_CACHE_TIMEOUT", default)

    @property
    def PRUNE_REVOKED_AFTER(self) -> timedelta:
        return getattr(settings, "TOKENS_PRUNE_REVOKED_AFTER", timedelta(days=30))


app_settings = _Settings()
