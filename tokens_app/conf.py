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
TOKENS_ACCESS_COOKIE             "__Host-access_token"        cookie names; the ``__Host-`` prefix
TOKENS_REFRESH_COOKIE            "__Host-refresh_token"       (no sibling subdomain can set them)
                                                              needs Secure, no COOKIE_DOMAIN and,
                                                              for refresh, REFRESH_COOKIE_PATH "/";
                                                              else "access_token", "refresh_token"
TOKENS_COOKIE_DOMAIN             None                         host-only cookies by default
TOKENS_COOKIE_SECURE             not DEBUG                    Secure attribute
TOKENS_COOKIE_SAMESITE           "Lax"                        SameSite attribute
TOKENS_REFRESH_COOKIE_PATH       "/"                          see cookies.py for why it is "/"
TOKENS_ROTATION_GRACE            10 seconds                   two tabs refreshing at once are not theft
TOKENS_IMMEDIATE_REVOCATION      on with a shared cache       token_version checked per request
TOKENS_VERSION_CACHE_TIMEOUT     1 hour (shared), 30 s local  how long a cached token_version is trusted
TOKENS_PRUNE_REVOKED_AFTER       30 days                      prune_sessions keeps revoked rows this long
TOKENS_THROTTLE_ENABLED          True                         see throttling.py; off only for load tests
TOKENS_LOGIN_CLIENT_RATE         (5, 5 minutes)               failed logins per account from one client
                                                              (a known browser, else the client IP)
TOKENS_LOGIN_ACCOUNT_RATE        (20, 1 hour)                 failed logins per account from browsers
                                                              that never signed in to it; over it,
                                                              only known browsers may try
TOKENS_LOGIN_IP_RATE             (30, 1 minute)               failed logins per client IP per window
TOKENS_USERNAME_CASE_INSENSITIVE False                        True only if your backend matches
                                                              usernames case-insensitively
TOKENS_DEVICE_COOKIE             "known_device"               set at sign-in: "this browser signed in
TOKENS_DEVICE_COOKIE_LIFETIME    365 days                     to this account before" (throttling.py)
TOKENS_RESET_ADDRESS_RATE        (3, 1 hour)                  password-reset requests per email address
TOKENS_RESET_IP_RATE             (20, 1 hour)                 password-reset requests per client IP
TOKENS_REFRESH_IP_RATE           (30, 1 minute)               refused (not expired) refreshes per client IP
TOKENS_CLIENT_IP_HEADER          None                         e.g. "X-Forwarded-For", written by YOUR proxy
TOKENS_TRUSTED_PROXY_COUNT       1                            proxies in front of Django appending to it
TOKENS_THROTTLE_IPV6_PREFIX      64                           IPv6 clients are counted per /64 network
TOKENS_ENVIRONMENT_NAMES         {}                           setting -> the environment variable your
                                                              settings read it from, for messages and
                                                              generate_secrets (e.g. {"TOKENS_ACCESS_
                                                              SECRET": "MY_ACCESS_KEY"})
TOKENS_REVOCATION_TRACKING       True                         with a Redis cache, keep the revocation
                                                              state in each worker, invalidated by
                                                              Redis CLIENT TRACKING (tracking.py)
TOKENS_TRACKING_CACHE_SIZE       10000                        entries per worker (2 per active user)
TOKENS_TRACKING_MAX_LAG          1.0 (seconds)                heartbeat bound: a slower invalidation
                                                              connection is dropped with its entries
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
        default = "__Host-access_token" if self.HOST_PREFIX_ALLOWED else "access_token"
        return getattr(settings, "TOKENS_ACCESS_COOKIE", None) or default

    @property
    def REFRESH_COOKIE(self) -> str:
        allowed = self.HOST_PREFIX_ALLOWED and self.REFRESH_COOKIE_PATH == "/"
        default = "__Host-refresh_token" if allowed else "refresh_token"
        return getattr(settings, "TOKENS_REFRESH_COOKIE", None) or default

    @property
    def HOST_PREFIX_ALLOWED(self) -> bool:
        """Whether cookies may carry the ``__Host-`` prefix: browsers accept
        one only if Secure, with Path=/ and no Domain. Such a cookie can be
        set by this host alone, never by a sibling subdomain (cookie tossing)."""
        return bool(self.COOKIE_SECURE and not self.COOKIE_DOMAIN)

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
    def LOGIN_CLIENT_RATE(self) -> tuple[int, timedelta | int]:
        return getattr(settings, "TOKENS_LOGIN_CLIENT_RATE", (5, timedelta(minutes=5)))

    @property
    def LOGIN_ACCOUNT_RATE(self) -> tuple[int, timedelta | int]:
        return getattr(settings, "TOKENS_LOGIN_ACCOUNT_RATE", (20, timedelta(hours=1)))

    @property
    def USERNAME_CASE_INSENSITIVE(self) -> bool:
        return getattr(settings, "TOKENS_USERNAME_CASE_INSENSITIVE", False)

    @property
    def DEVICE_COOKIE(self) -> str:
        return getattr(settings, "TOKENS_DEVICE_COOKIE", "known_device")

    @property
    def DEVICE_COOKIE_LIFETIME(self) -> timedelta:
        return getattr(settings, "TOKENS_DEVICE_COOKIE_LIFETIME", timedelta(days=365))

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
        """The request.META key: "X-Forwarded-For" and "HTTP_X_FORWARDED_FOR" both work."""
        header = (getattr(settings, "TOKENS_CLIENT_IP_HEADER", None) or "").strip()
        if not header:
            return None
        key = header.upper().replace("-", "_")
        return key if key.startswith("HTTP_") else f"HTTP_{key}"

    @property
    def TRUSTED_PROXY_COUNT(self) -> int:
        return getattr(settings, "TOKENS_TRUSTED_PROXY_COUNT", 1)

    @property
    def THROTTLE_IPV6_PREFIX(self) -> int:
        return getattr(settings, "TOKENS_THROTTLE_IPV6_PREFIX", 64)

    @property
    def ENVIRONMENT_NAMES(self) -> dict[str, str]:
        return dict(getattr(settings, "TOKENS_ENVIRONMENT_NAMES", {}))

    # Session policies (issue 16): see docs/sessions.md for why each default.

    @property
    def SESSION_MAX_LIFETIME(self) -> timedelta:
        """How long a remembered session may last from its sign-in, however active.

        Rotation never extends a session past it (OWASP's absolute timeout).
        30 days: a month of daily use before typing the password again.
        """
        return getattr(settings, "TOKENS_SESSION_MAX_LIFETIME", timedelta(days=30))

    @property
    def BROWSER_SESSION_MAX_LIFETIME(self) -> timedelta:
        """The maximum lifetime of a session signed in without "remember me".

        Its cookies end with the browser, but browsers that restore tabs keep
        session cookies for weeks; 12 hours is a working day on a shared computer.
        """
        return getattr(settings, "TOKENS_BROWSER_SESSION_MAX_LIFETIME", timedelta(hours=12))

    @property
    def REMEMBER_ME_DEFAULT(self) -> bool:
        """Whether the login form's "Remember me" starts ticked (the API's
        ``remember`` defaults to true either way: its clients keep today's behaviour)."""
        return getattr(settings, "TOKENS_REMEMBER_ME_DEFAULT", True)

    @property
    def REAUTHENTICATION_TIMEOUT(self) -> timedelta:
        """How recent the last password entry must be for a sensitive action."""
        return getattr(settings, "TOKENS_REAUTHENTICATION_TIMEOUT", timedelta(minutes=10))

    @property
    def REAUTHENTICATE_ADMIN(self) -> bool:
        """Whether the admin needs a recent sign-in too (it can end sessions and set passwords)."""
        return getattr(settings, "TOKENS_REAUTHENTICATE_ADMIN", True)

    @property
    def SESSION_LIMIT(self) -> int | None:
        """Signed-in devices per user; a sign-in beyond it ends the least recently used."""
        return getattr(settings, "TOKENS_SESSION_LIMIT", None)

    @property
    def NEW_DEVICE_ALERTS(self) -> bool:
        """Mail the user when they sign in from a device and network not seen before."""
        return getattr(settings, "TOKENS_NEW_DEVICE_ALERTS", True)

    @property
    def NEW_DEVICE_ALERT_RATE(self) -> tuple[int, timedelta | int]:
        """At most this many new-device mails per user per window (no mailbox flooding)."""
        return getattr(settings, "TOKENS_NEW_DEVICE_ALERT_RATE", (3, timedelta(hours=1)))

    @property
    def NEW_DEVICE_LINK_MAX_AGE(self) -> timedelta:
        """How long the alert's "This wasn't me" link works."""
        return getattr(settings, "TOKENS_NEW_DEVICE_LINK_MAX_AGE", timedelta(days=7))

    @property
    def ACCEPT_UNTYPED_TOKENS(self) -> bool:
        """Accept tokens whose header says only ``typ: JWT`` (issued before explicit typing).

        Needed for one REFRESH_LIFETIME after the deploy that introduced the
        ``at+jwt`` / ``refresh+jwt`` headers, so nobody is logged out by it;
        then set it to False (the default will flip in a later release).
        """
        return getattr(settings, "TOKENS_ACCEPT_UNTYPED_TOKENS", True)

    # --- tracking settings
    @property
    def REVOCATION_TRACKING(self) -> bool:
        """With a Redis cache, answer revocation checks from each worker's memory (tracking.py)."""
        return getattr(settings, "TOKENS_REVOCATION_TRACKING", True)

    @property
    def TRACKING_CACHE_SIZE(self) -> int:
        """Entries of the per-worker revocation cache (about two per active user)."""
        return getattr(settings, "TOKENS_TRACKING_CACHE_SIZE", 10_000)

    @property
    def TRACKING_MAX_LAG(self) -> float:
        """Seconds a heartbeat may take before the local entries are dropped."""
        return float(getattr(settings, "TOKENS_TRACKING_MAX_LAG", 1.0))


app_settings = _Settings()
