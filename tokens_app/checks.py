"""System checks for unsafe or broken token settings. Ids are stable; texts live here."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured

from . import keys
from .conf import app_settings

MIDDLEWARE_PATH = "tokens_app.middleware.TokenAuthenticationMiddleware"
MIN_KEY_BYTES = 32

MESSAGES = {
    "E001": (
        f"'{MIDDLEWARE_PATH}' is not in MIDDLEWARE.",
        f"Edit your MIDDLEWARE setting to insert '{MIDDLEWARE_PATH}' after "
        "'django.middleware.csrf.CsrfViewMiddleware'.",
    ),
    "E002": (
        "Django's AuthenticationMiddleware is installed beside the token middleware.",
        "Remove 'django.contrib.auth.middleware.AuthenticationMiddleware' (and SessionMiddleware) "
        "from MIDDLEWARE: the token middleware sets request.user.",
    ),
    "E003": (
        "The user model {model} has no 'token_version' field.",
        "Add token_version = models.PositiveIntegerField(default=0, editable=False) to it.",
    ),
    "E004": (
        "Access and refresh tokens are signed with the same key ({names}).",
        "Set ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET (and their _FALLBACKS) to different "
        "values (`python manage.py generate_secrets`): an access token must never pass as a refresh token.",
    ),
    "E005": (
        "The access token lifetime ({access}) is not shorter than the refresh token lifetime ({refresh}).",
        "Set ACCESS_TOKEN_EXPIRY well below REFRESH_TOKEN_EXPIRY (defaults: 5m and 14d).",
    ),
    "E006": (
        "The access token keys cannot be loaded: {error}",
        "Fix ACCESS_TOKEN_ALGORITHM, ACCESS_TOKEN_PRIVATE_KEY_FILE and "
        "ACCESS_TOKEN_PUBLIC_KEY_FALLBACK_FILES (docs/key-rotation.md).",
    ),
    "W001": (
        "The {name} key is shorter than 32 bytes.",
        "Use a random key of at least 32 bytes; `python manage.py generate_secrets` prints one.",
    ),
    "W006": (
        "The RSA {name} key has {bits} bits.",
        "Use RSA keys of at least 2048 bits (generate_secrets makes 3072), or EdDSA.",
    ),
    "W007": (
        "The access key fallback file {path} holds a private key.",
        "A retired key only verifies: keep its public half (the .pub file generate_secrets wrote) "
        "in ACCESS_TOKEN_PUBLIC_KEY_FALLBACK_FILES and delete the private key.",
    ),
    "W002": (
        "Auth cookies are sent without the Secure attribute while DEBUG is off.",
        "Remove TOKENS_COOKIE_SECURE = False: tokens must only travel over HTTPS.",
    ),
    "W003": (
        "TOKENS_COOKIE_SAMESITE is {value!r}.",
        "Use 'Lax' (the default) or 'Strict'; 'None' sends the auth cookies on cross-site requests.",
    ),
    "W004": (
        "Access tokens live {access}: a revoked user keeps access that long.",
        "Keep ACCESS_TOKEN_EXPIRY at 15 minutes or less, or turn on TOKENS_IMMEDIATE_REVOCATION "
        "with a shared cache (REDIS_URL).",
    ),
    "W005": (
        "Immediate revocation is on with a per-process cache: other worker processes learn of a "
        "revocation only when their cached version expires (TOKENS_VERSION_CACHE_TIMEOUT).",
        "Set REDIS_URL so every app server shares one cache.",
    ),
    # Session policies (docs/sessions.md#session-policies).
    "E007": (
        "{name} is {value!r}: it must be {expected}.",
        "Fix {name} in your settings (docs/sessions.md lists each policy with its default).",
    ),
    "W008": (
        "Sessions without remember me may last {browser}, longer than remembered ones ({remembered}).",
        "Set TOKENS_BROWSER_SESSION_MAX_LIFETIME (BROWSER_SESSION_MAX_LIFETIME) below "
        "TOKENS_SESSION_MAX_LIFETIME (SESSION_MAX_LIFETIME): unticking remember me should mean shorter.",
    ),
}


def _message(kind, check_id: str, obj=None, **fmt):
    text, hint = MESSAGES[check_id]
    return kind(text.format(**fmt), hint=hint.format(**fmt), id=f"tokens_app.{check_id}", obj=obj)


@register(Tags.security, Tags.compatibility)
def check_middleware(app_configs=None, **kwargs):
    middleware = list(settings.MIDDLEWARE)
    errors = []
    if MIDDLEWARE_PATH not in middleware:
        errors.append(_message(Error, "E001"))
    if "django.contrib.auth.middleware.AuthenticationMiddleware" in middleware:
        errors.append(_message(Error, "E002"))
    return errors


@register(Tags.models)
def check_user_model(app_configs=None, **kwargs):
    from django.contrib.auth import get_user_model

    model = get_user_model()
    try:
        model._meta.get_field("token_version")
    except FieldDoesNotExist:
        return [_message(Error, "E003", model=model._meta.label)]
    return []


def _named_secrets(kind: str, current: str, fallbacks: list[str]) -> list[tuple[str, str]]:
    return [(kind, current)] + [(f"{kind} fallback #{n}", key) for n, key in enumerate(fallbacks, 1)]


@register(Tags.security)
def check_keys(app_configs=None, **kwargs):
    errors = []
    secrets = _named_secrets("refresh", app_settings.REFRESH_SECRET, app_settings.REFRESH_SECRET_FALLBACKS)
    access_secrets = []
    if app_settings.ACCESS_ALGORITHM not in keys.ASYMMETRIC_ALGORITHMS:
        access_secrets = _named_secrets(
            "access", app_settings.ACCESS_SECRET, app_settings.ACCESS_SECRET_FALLBACKS
        )
    for name, key in access_secrets + secrets:
        if len(key.encode()) < MIN_KEY_BYTES:
            errors.append(_message(Warning, "W001", name=name))
    shared = [
        f"{access_name} = {refresh_name}"
        for access_name, access in access_secrets
        for refresh_name, refresh in secrets
        if access == refresh
    ]
    if shared:
        errors.append(_message(Error, "E004", names=", ".join(shared)))
    errors += _check_access_key_files()
    return errors


def _check_access_key_files() -> list:
    try:
        keyring = keys.access_keyring()
    except ImproperlyConfigured as exc:
        return [_message(Error, "E006", error=exc)]
    errors = []
    for number, key in enumerate(keyring.keys.values()):
        size = getattr(key.verifying, "key_size", None)
        if keyring.algorithm == "RS256" and size is not None and size < keys.MIN_RSA_BITS:
            name = "access" if number == 0 else f"access fallback #{number}"
            errors.append(_message(Warning, "W006", name=name, bits=size))
    if keyring.algorithm in keys.ASYMMETRIC_ALGORITHMS:
        for path in app_settings.ACCESS_PUBLIC_KEY_FALLBACK_FILES:
            if keys.holds_private_key(path):
                errors.append(_message(Warning, "W007", path=path))
    return errors


@register(Tags.security)
def check_lifetimes_and_cookies(app_configs=None, **kwargs):
    errors = []
    access, refresh = app_settings.ACCESS_LIFETIME, app_settings.REFRESH_LIFETIME
    if access >= refresh:
        errors.append(_message(Error, "E005", access=access, refresh=refresh))
    elif access.total_seconds() > 15 * 60 and not app_settings.IMMEDIATE_REVOCATION:
        errors.append(_message(Warning, "W004", access=access))
    if not settings.DEBUG and not app_settings.COOKIE_SECURE:
        errors.append(_message(Warning, "W002"))
    if str(app_settings.COOKIE_SAMESITE).lower() not in ("lax", "strict"):
        errors.append(_message(Warning, "W003", value=app_settings.COOKIE_SAMESITE))
    if app_settings.IMMEDIATE_REVOCATION and not app_settings.SHARED_CACHE:
        errors.append(_message(Warning, "W005"))
    return errors


@register(Tags.security)
def check_session_policies(app_configs=None, **kwargs):
    errors = []
    positive = "a positive timedelta"
    for name, value in (
        ("TOKENS_SESSION_MAX_LIFETIME", app_settings.SESSION_MAX_LIFETIME),
        ("TOKENS_BROWSER_SESSION_MAX_LIFETIME", app_settings.BROWSER_SESSION_MAX_LIFETIME),
        ("TOKENS_REAUTHENTICATION_TIMEOUT", app_settings.REAUTHENTICATION_TIMEOUT),
        ("TOKENS_NEW_DEVICE_LINK_MAX_AGE", app_settings.NEW_DEVICE_LINK_MAX_AGE),
    ):
        if not isinstance(value, timedelta) or value <= timedelta(0):
            errors.append(_message(Error, "E007", name=name, value=value, expected=positive))
    limit = app_settings.SESSION_LIMIT
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        errors.append(
            _message(
                Error,
                "E007",
                name="TOKENS_SESSION_LIMIT",
                value=limit,
                expected="None or a whole number >= 1",
            )
        )
    if not errors and app_settings.BROWSER_SESSION_MAX_LIFETIME > app_settings.SESSION_MAX_LIFETIME:
        errors.append(
            _message(
                Warning,
                "W008",
                browser=app_settings.BROWSER_SESSION_MAX_LIFETIME,
                remembered=app_settings.SESSION_MAX_LIFETIME,
            )
        )
    return errors
