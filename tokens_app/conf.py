"""The token app's settings: one table of defaults, each read when used.

Every ``TOKENS_*`` setting is one line of ``_Settings`` below: its default and
its meaning. Reading late (on each attribute access, never at import time)
keeps ``override_settings`` and pytest-django's ``settings`` fixture working
without module reloads. The reference table in docs/configuration.md is
written from these lines (``python -m tokens_app.conf``), and a test checks
that the two agree.

A rate is ``(count, window)`` with the window a ``timedelta`` or seconds.
Without TOKENS_CLIENT_IP_HEADER the client IP is REMOTE_ADDR; with it, the
TOKENS_TRUSTED_PROXY_COUNT-th address from the right of that header (the one
your own outermost proxy wrote), so a client cannot choose its address by
sending a forged X-Forwarded-For.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .setting import Setting

_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
Rate = tuple[int, timedelta | int]
SameSite = Literal["Lax", "Strict", "None", False]
# The old name of TOKENS_REFRESH_ALGORITHM, still read (with a DeprecationWarning
# and the system check W009) until a later release drops it.
DEPRECATED_NAMES = {"TOKENS_ALGORITHM": "TOKENS_REFRESH_ALGORITHM"}


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


def _refresh_algorithm(_: object) -> str:
    # The old name, read until a later release: tokens_app.W009 says what to rename.
    old = getattr(settings, "TOKENS_ALGORITHM", None)
    if old is None:
        return "HS256"
    warnings.warn(
        "The setting TOKENS_ALGORITHM is deprecated: rename it TOKENS_REFRESH_ALGORITHM.",
        DeprecationWarning,
        stacklevel=3,
    )
    return old


def _access_cookie(s: _Settings) -> str:
    return "__Host-access_token" if s.HOST_PREFIX_ALLOWED else "access_token"


def _refresh_cookie(s: _Settings) -> str:
    allowed = s.HOST_PREFIX_ALLOWED and s.REFRESH_COOKIE_PATH == "/"
    return "__Host-refresh_token" if allowed else "refresh_token"


def _version_cache_timeout(s: _Settings) -> int:
    # A per-process cache cannot be written through for other workers, so
    # the entry must age out quickly; a shared one is always current.
    return 3600 if s.SHARED_CACHE else 30


def _client_ip_header(value: str | None) -> str | None:
    # The request.META key: "X-Forwarded-For" and "HTTP_X_FORWARDED_FOR" both work.
    header = (value or "").strip()
    if not header:
        return None
    key = header.upper().replace("-", "_")
    return key if key.startswith("HTTP_") else f"HTTP_{key}"


def _str_list(value: Any) -> list[str]:
    return [str(item) for item in value]


class _Settings:
    """The table: ``NAME = Setting(default, meaning, ...)`` reads ``TOKENS_NAME``."""

    # Keys
    ACCESS_SECRET = Setting("", "HMAC key for access tokens", shown="required", required=True)
    REFRESH_SECRET = Setting("", "HMAC key for refresh tokens", shown="required", required=True)
    ACCESS_SECRET_FALLBACKS = Setting[list[str]]([], "old access keys still accepted", clean=list)
    REFRESH_SECRET_FALLBACKS = Setting[list[str]]([], "old refresh keys still accepted", clean=list)
    REFRESH_ALGORITHM = Setting(
        "HS256",
        "HMAC algorithm of refresh tokens (formerly TOKENS_ALGORITHM, still read, deprecated)",
        derive=_refresh_algorithm,
    )
    ACCESS_ALGORITHM = Setting(
        "HS256",
        "HS256 (HMAC), or EdDSA / ES256 / RS256 (a key pair from the key files)",
        derive=lambda s: s.REFRESH_ALGORITHM,
        shown="`TOKENS_REFRESH_ALGORITHM`",
        blank_means_default=True,
    )
    ACCESS_PRIVATE_KEY_FILE = Setting(
        "", "PEM private key signing access tokens (key pairs)", clean=lambda v: str(v or "")
    )
    ACCESS_PUBLIC_KEY_FALLBACK_FILES = Setting[list[str]](
        [], "PEM files of other accepted access keys (retired or next; public part used)", clean=_str_list
    )
    AUDIENCE = Setting[str | None](
        None, "``aud`` of access tokens, checked if set", clean=lambda v: v or None
    )
    JWKS_MAX_AGE = Setting(300, "Cache-Control max-age of the JWKS, in seconds")
    ISSUER = Setting("tokens_app", "the ``iss`` claim, required on verify")
    MAX_TOKEN_BYTES = Setting(4096, "longer cookies are refused unparsed")
    ACCEPT_UNTYPED_TOKENS = Setting(
        True,
        "accept tokens whose header says only ``typ: JWT`` (issued before explicit typing); "
        "needed for one REFRESH_LIFETIME after that deploy, then set it to False",
    )
    # Lifetimes
    ACCESS_LIFETIME = Setting(timedelta(minutes=5), "lifetime of an access token")
    REFRESH_LIFETIME = Setting(timedelta(days=14), "lifetime of a refresh token: the idle session limit")
    LEEWAY = Setting(timedelta(seconds=10), "clock skew tolerated on exp/iat")
    ROTATION_GRACE = Setting(timedelta(seconds=10), "two tabs refreshing at once are not theft")
    PRUNE_REVOKED_AFTER = Setting(timedelta(days=30), "prune_sessions keeps revoked rows this long")
    LOST_RESPONSE_WINDOW = Setting(
        timedelta(minutes=15),
        "the previous refresh token is answered this long after a rotation, for the client that "
        'rotated, while its successor never came back (docs/sessions.md, "Lost responses"); 0 turns it off',
    )
    # Cookies
    ACCESS_COOKIE = Setting(
        "__Host-access_token",
        "cookie name; the ``__Host-`` prefix (no sibling subdomain can set it) needs Secure and "
        'no COOKIE_DOMAIN, else "access_token"',
        derive=_access_cookie,
        blank_means_default=True,
    )
    REFRESH_COOKIE = Setting(
        "__Host-refresh_token",
        'cookie name; ``__Host-`` as ACCESS_COOKIE, and REFRESH_COOKIE_PATH "/", else "refresh_token"',
        derive=_refresh_cookie,
        blank_means_default=True,
    )
    COOKIE_DOMAIN = Setting[str | None](None, "host-only cookies by default")
    COOKIE_SECURE = Setting(True, "Secure attribute", derive=lambda s: not settings.DEBUG, shown="not DEBUG")
    COOKIE_SAMESITE = Setting[SameSite]("Lax", "SameSite attribute")
    REFRESH_COOKIE_PATH = Setting("/", 'Path of the refresh cookie; see cookies.py for why it is "/"')
    DEVICE_COOKIE = Setting(
        "known_device", 'set at sign-in: "this browser signed in to this account before" (throttling.py)'
    )
    DEVICE_COOKIE_LIFETIME = Setting(timedelta(days=365), "lifetime of the device cookie")
    # Revocation
    IMMEDIATE_REVOCATION = Setting(
        True,
        "token_version checked on each request",
        derive=lambda s: s.SHARED_CACHE,
        shown="on with a shared cache",
    )
    VERSION_CACHE_TIMEOUT = Setting(
        3600,
        "how long a cached token_version is trusted, in seconds",
        derive=_version_cache_timeout,
        shown="3600 (shared cache), 30 (local)",
    )
    REVOCATION_TRACKING = Setting(
        True,
        "with a Redis cache, keep the revocation state in each worker, invalidated by Redis CLIENT "
        "TRACKING (tracking.py)",
    )
    TRACKING_CACHE_SIZE = Setting(
        10_000, "entries of the per-worker revocation cache (about 2 per active user)"
    )
    TRACKING_MAX_LAG = Setting(
        1.0, "seconds a heartbeat may take before the local entries are dropped", clean=float
    )
    # Throttling
    THROTTLE_ENABLED = Setting(True, "see throttling.py; off only for load tests")
    LOGIN_CLIENT_RATE = Setting[Rate](
        (5, timedelta(minutes=5)), "failed logins per account from one client (a known browser, else the IP)"
    )
    LOGIN_ACCOUNT_RATE = Setting[Rate](
        (20, timedelta(hours=1)),
        "failed logins per account from browsers that never signed in to it; over it, only known "
        "browsers may try",
    )
    LOGIN_IP_RATE = Setting[Rate]((30, timedelta(minutes=1)), "failed logins per client IP per window")
    RESET_ADDRESS_RATE = Setting[Rate]((3, timedelta(hours=1)), "password-reset requests per email address")
    RESET_IP_RATE = Setting[Rate]((20, timedelta(hours=1)), "password-reset requests per client IP")
    REFRESH_IP_RATE = Setting[Rate](
        (30, timedelta(minutes=1)), "refused (not expired) refreshes per client IP"
    )
    USERNAME_CASE_INSENSITIVE = Setting(
        False, "True only if your authentication backend matches usernames case-insensitively"
    )
    CLIENT_IP_HEADER = Setting[str | None](
        None, 'e.g. "X-Forwarded-For", written by YOUR proxy', clean=_client_ip_header
    )
    TRUSTED_PROXY_COUNT = Setting(1, "proxies in front of Django appending to CLIENT_IP_HEADER")
    THROTTLE_IPV6_PREFIX = Setting(64, "IPv6 clients are counted per network of this prefix length")
    # Session policies (docs/sessions.md says why each default)
    SESSION_MAX_LIFETIME = Setting(
        timedelta(days=30),
        "how long a remembered session may last from its sign-in, however active (rotation never extends it)",
    )
    BROWSER_SESSION_MAX_LIFETIME = Setting(
        timedelta(hours=12), 'the maximum lifetime of a session signed in without "remember me"'
    )
    REMEMBER_ME_DEFAULT = Setting(
        True,
        "whether the login form's \"Remember me\" starts ticked (the API's ``remember`` defaults to true)",
    )
    REAUTHENTICATION_TIMEOUT = Setting(
        timedelta(minutes=10), "how recent the last password entry must be for a sensitive action"
    )
    REAUTHENTICATE_ADMIN = Setting(True, "whether the admin needs a recent sign-in too")
    SESSION_LIMIT = Setting[int | None](
        None, "signed-in devices per user; a sign-in beyond it ends the least recently used"
    )
    NEW_DEVICE_ALERTS = Setting(
        True, "mail the user when they sign in from a device and network not seen before"
    )
    NEW_DEVICE_ALERT_RATE = Setting[Rate](
        (3, timedelta(hours=1)), "at most this many new-device mails per user"
    )
    NEW_DEVICE_LINK_MAX_AGE = Setting(timedelta(days=7), "how long the alert's \"This wasn't me\" link works")
    # Messages
    ENVIRONMENT_NAMES = Setting[dict[str, str]](
        {},
        "setting -> the environment variable your settings read it from, for messages and "
        'generate_secrets (e.g. {"TOKENS_ACCESS_SECRET": "MY_ACCESS_KEY"})',
        clean=dict,
    )

    # Other services: the revocation feed and WebSockets (docs/integrations.md)
    REVOCATION_FEED_CREDENTIALS = Setting[list[str]](
        [],
        "bearer credentials of the services that may read /revocations/ (none: the feed answers 404)",
        clean=list,
    )
    REVOCATION_FEED_PAGE_SIZE = Setting(500, "entries per revocation feed page")
    REVOCATION_FEED_MAX_AGE = Setting(
        5, "seconds a feed page may be reused by its reader: the poll interval to configure there"
    )
    WEBSOCKET_CLOSE_CODE = Setting(4401, "close code of a WebSocket whose user or device session ended")
    # Pages: the kept form and the warning before a time limit (docs/sessions.md)
    KEPT_POST_TIMEOUT = Setting(
        timedelta(minutes=15), "how long a form posted after the session ended is kept for its resubmission"
    )
    KEPT_POST_MAX_BYTES = Setting(65536, "larger kept form data (files excluded, never kept) is not kept")
    SESSION_WARNING = Setting(
        timedelta(minutes=2), "pages warn this long before a time limit ends the session (session.js)"
    )
    # Derived values, not settings of their own.

    @property
    def HOST_PREFIX_ALLOWED(self) -> bool:
        """Whether cookies may carry the ``__Host-`` prefix: browsers accept
        one only if Secure, with Path=/ and no Domain. Such a cookie can be
        set by this host alone, never by a sibling subdomain (cookie tossing)."""
        return bool(self.COOKIE_SECURE and not self.COOKIE_DOMAIN)

    @property
    def SHARED_CACHE(self) -> bool:
        """True when the default cache is seen by every app server."""
        return settings.CACHES["default"]["BACKEND"] not in _LOCAL_CACHES


app_settings = _Settings()


def table() -> list[Setting[Any]]:
    """Every setting, in the table's order."""
    return [value for value in vars(_Settings).values() if isinstance(value, Setting)]


def reference_rows() -> list[str]:
    """The Markdown rows of docs/configuration.md's reference table."""
    return [f"| `{s.name}` | {s.shown} | {s.meaning} |" for s in table()]


if __name__ == "__main__":
    print("\n".join(reference_rows()))
