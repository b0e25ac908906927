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
TOKENS_ISSUER                    "tokens_app"                 the ``iss`` claim, required on verify
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
TOKENS_THROTTLE_ENABLED          True                         see throttling.py; off only for load tests
TOKENS_LOGIN_ACCOUNT_RATE        (5, 5 minutes)               failed logins per username per window
TOKENS_LOGIN_IP_RATE             (30, 1 minute)               failed logins per client IP per window
TOKENS_RESET_ADDRESS_RATE        (3, 1 hour)                  password-reset requests per email address
TOKENS_RESET_IP_RATE             (20, 1 hour)                 password-reset requests per client IP
TOKENS_REFRESH_IP_RATE           (30, 1 minute)               refused (not expired) refreshes per client IP
TOKENS_CLIENT_IP_HEADER          None                         e.g. "HTTP_X_FORWARDED_FOR", set by YOUR proxy
TOKENS_TRUSTED_PROXY_COUNT       1                            proxies in front of Django appending to it
TOKENS_THROTTLE_IPV6_PREFIX      64                           IPv6 clients are counted per /64 network
TOKENS_ENVIRONMENT_NAMES         {}                           setting -> the environment variable your
                                                              settings read it from, for messages and
                                                              generate_secrets (e.g. {"TOKENS_ACCESS_
                                                              SECRET": "MY_ACCESS_KEY"})
===============================  ===========================  ======================================

A rate is ``(count, window)`` with the window a ``timedelta`` or seconds.
Without TOKENS_CLIENT_IP_HEADER the client IP is REMOTE_ADDR; with it, the
TOKENS_TRUSTED_PROXY_COUNT-th address from the right of that header (the one
your own outermost proxy wrote), so a client cannot choose its address by
sending a forged X-Forwarded-For.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def setting_name(name: str) -> str:
    """``name`` as a message shows it: with the environment variable the
    project reads it from, when the project says so (TOKENS_ENVIRONMENT_NAMES)."""
    variable = app_settings.ENVIRONMENT_NAMES.get(name)
    return f"{name} (environment variable {variable})" if variable else name


class MissingSetting(ImproperlyConfigured):
    """A required setting is absent or empty; the system check tokens_app.E020 reports it."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"The setting {setting_name(name)} is required by tokens_app and is not set. "
            "`python manage.py generate_secrets` prints a fresh value."
        )


def _required(name: str) -> str:
    value = getattr(settings, name, None)
    if not value:
        raise MissingSetting(name)
    return value


class _Settings:
    @property
    def ACCESS_SECRET(self) -> str:
        return _required("TOKENS_ACCESS_SECRET")

    @property
    def REFRESH_SECRET(self) -> str:
        return _required("TOKENS_REFRESH_SECRET")

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
        return getattr(settings, "TOKENS_ISSUER", "tokens_app")

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

    @property
    def THROTTLE_ENABLED(self) -> bool:
        return getattr(settings, "TOKENS_THROTTLE_ENABLED", True)

    @property
    def LOGIN_ACCOUNT_RATE(self) -> tuple[int, timedelta | int]:
        return getattr(settings, "TOKENS_LOGIN_ACCOUNT_RATE", (5, timedelta(minutes=5)))

    @property
    def LOGIN_IP_RATE(self) -> tuple[int, timedelta | int]:
        return getattr(settings, "TOKENS_LOGIN_IP_RATE", (30, timedelta(minutes=1)))

    @property
    def RESET_ADDRESS_RATE(self) -> tuple[int, timedelta | int]:
        return getattr(settings, "TOKENS_RESET_ADDRESS_RATE", (3, timedelta(hours=1)))

    @property
    def RESET_IP_RATE(self) -> tuple[int, timedelta | int]:
        return getattr(settings, "TOKENS_RESET_IP_RATE", (20, timedelta(hours=1)))

    @property
    def REFRESH_IP_RATE(self) -> tuple[int, timedelta | int]:
        return getattr(settings, "TOKENS_REFRESH_IP_RATE", (30, timedelta(minutes=1)))

    @property
    def CLIENT_IP_HEADER(self) -> str | None:
        return getattr(settings, "TOKENS_CLIENT_IP_HEADER", None)

    @property
    def TRUSTED_PROXY_COUNT(self) -> int:
        return getattr(settings, "TOKENS_TRUSTED_PROXY_COUNT", 1)

    @property
    def THROTTLE_IPV6_PREFIX(self) -> int:
        return getattr(settings, "TOKENS_THROTTLE_IPV6_PREFIX", 64)

    @property
    def ENVIRONMENT_NAMES(self) -> dict[str, str]:
        return dict(getattr(settings, "TOKENS_ENVIRONMENT_NAMES", {}))


app_settings = _Settings()
