"""Checks of the keys, lifetimes, cookies and policies: unsafe or broken token settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from tokens_app import keys
from tokens_app.conf import DEPRECATED_NAMES, MissingSetting, app_settings, setting_name

from .messages import message

MIN_KEY_BYTES = 32


def _named_secrets(kind: str, current: str, fallbacks: list[str]) -> list[tuple[str, str]]:
    return [(kind, current)] + [(f"{kind} fallback #{n}", key) for n, key in enumerate(fallbacks, 1)]


@register(Tags.security)
def check_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors = []
    asymmetric = app_settings.ACCESS_ALGORITHM in keys.ASYMMETRIC_ALGORITHMS
    try:
        secrets = _named_secrets(
            "refresh", app_settings.REFRESH_SECRET, app_settings.REFRESH_SECRET_FALLBACKS
        )
        access_secrets = []
        if not asymmetric:
            access_secrets = _named_secrets(
                "access", app_settings.ACCESS_SECRET, app_settings.ACCESS_SECRET_FALLBACKS
            )
    except MissingSetting:
        # Every missing one at once, so a new project fixes its settings in one go.
        required = ["TOKENS_REFRESH_SECRET"] + ([] if asymmetric else ["TOKENS_ACCESS_SECRET"])
        return [
            message(Error, "E020", name=setting_name(name))
            for name in required
            if not getattr(settings, name, None)
        ]
    for name, key in access_secrets + secrets:
        if len(key.encode()) < MIN_KEY_BYTES:
            errors.append(message(Warning, "W001", name=name))
    shared = [
        f"{access_name} = {refresh_name}"
        for access_name, access in access_secrets
        for refresh_name, refresh in secrets
        if access == refresh
    ]
    if shared:
        errors.append(message(Error, "E004", names=", ".join(shared)))
    errors += _check_access_key_files()
    return errors


def _check_access_key_files() -> list[CheckMessage]:
    try:
        keyring = keys.access_keyring()
    except ImproperlyConfigured as exc:
        return [message(Error, "E006", error=exc)]
    errors = []
    for number, key in enumerate(keyring.keys.values()):
        size = getattr(key.verifying, "key_size", None)
        if keyring.algorithm == "RS256" and size is not None and size < keys.MIN_RSA_BITS:
            name = "access" if number == 0 else f"access fallback #{number}"
            errors.append(message(Warning, "W006", name=name, bits=size))
    if keyring.algorithm in keys.ASYMMETRIC_ALGORITHMS:
        for path in app_settings.ACCESS_PUBLIC_KEY_FALLBACK_FILES:
            if keys.holds_private_key(path):
                errors.append(message(Warning, "W007", path=path))
    return errors


@register(Tags.security)
def check_lifetimes_and_cookies(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors = []
    access, refresh = app_settings.ACCESS_LIFETIME, app_settings.REFRESH_LIFETIME
    if access >= refresh:
        errors.append(message(Error, "E005", access=access, refresh=refresh))
    elif access.total_seconds() > 15 * 60 and not app_settings.IMMEDIATE_REVOCATION:
        errors.append(message(Warning, "W004", access=access))
    if not settings.DEBUG and not app_settings.COOKIE_SECURE:
        errors.append(message(Warning, "W002"))
    if str(app_settings.COOKIE_SAMESITE).lower() not in ("lax", "strict"):
        errors.append(message(Warning, "W003", value=app_settings.COOKIE_SAMESITE))
    if app_settings.IMMEDIATE_REVOCATION and not app_settings.SHARED_CACHE:
        errors.append(message(Warning, "W005"))
    return errors


@register(Tags.security, deploy=True)
def check_client_ip_source(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and not app_settings.CLIENT_IP_HEADER:
        return [message(Warning, "W010")]
    return []


@register(Tags.security)
def check_session_policies(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors = []
    positive = "a positive timedelta"
    for name, value in (
        ("TOKENS_SESSION_MAX_LIFETIME", app_settings.SESSION_MAX_LIFETIME),
        ("TOKENS_BROWSER_SESSION_MAX_LIFETIME", app_settings.BROWSER_SESSION_MAX_LIFETIME),
        ("TOKENS_REAUTHENTICATION_TIMEOUT", app_settings.REAUTHENTICATION_TIMEOUT),
        ("TOKENS_NEW_DEVICE_LINK_MAX_AGE", app_settings.NEW_DEVICE_LINK_MAX_AGE),
    ):
        if not isinstance(value, timedelta) or value <= timedelta(0):
            errors.append(message(Error, "E007", name=name, value=value, expected=positive))
    limit = app_settings.SESSION_LIMIT
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        errors.append(
            message(
                Error,
                "E007",
                name="TOKENS_SESSION_LIMIT",
                value=limit,
                expected="None or a whole number >= 1",
            )
        )
    if not errors and app_settings.BROWSER_SESSION_MAX_LIFETIME > app_settings.SESSION_MAX_LIFETIME:
        errors.append(
            message(
                Warning,
                "W008",
                browser=app_settings.BROWSER_SESSION_MAX_LIFETIME,
                remembered=app_settings.SESSION_MAX_LIFETIME,
            )
        )
    return errors


@register(Tags.compatibility)
def check_deprecated_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [
        message(Warning, "W009", old=old, new=new)
        for old, new in DEPRECATED_NAMES.items()
        if hasattr(settings, old)
    ]
