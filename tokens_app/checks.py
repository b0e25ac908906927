"""System checks for unsafe or broken token settings. Ids are stable; texts live here."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist

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
        "Access and refresh tokens are signed with the same key.",
        "Set ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET to two different values "
        "(`python manage.py generate_secrets`).",
    ),
    "E005": (
        "The access token lifetime ({access}) is not shorter than the refresh token lifetime ({refresh}).",
        "Set ACCESS_TOKEN_EXPIRY well below REFRESH_TOKEN_EXPIRY (defaults: 5m and 14d).",
    ),
    "W001": (
        "The {name} key is shorter than 32 bytes.",
        "Use a random key of at least 32 bytes; `python manage.py generate_secrets` prints one.",
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


@register(Tags.security)
def check_keys(app_configs=None, **kwargs):
    errors = []
    access, refresh = app_settings.ACCESS_SECRET, app_settings.REFRESH_SECRET
    for name, key in (("access", access), ("refresh", refresh)):
        if len(key.encode()) < MIN_KEY_BYTES:
            errors.append(_message(Warning, "W001", name=name))
    if access == refresh:
        errors.append(_message(Error, "E004"))
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
