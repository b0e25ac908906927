"""Checks of the cookie names: the ``__Host-`` prefix, which only this host can
set (no sibling subdomain can plant a cookie so named), where browsers accept it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from tokens_app.conf import app_settings

from .messages import message

_HOST_PREFIX = "__Host-"


def _prefixed_cookies() -> list[tuple[str, str, str, bool, str | None, str]]:
    """The cookies the __Host- prefix protects (checks E030 and W030): what
    each is, the setting naming it, its name, Secure, Domain and Path."""
    return [
        (
            "access",
            "TOKENS_ACCESS_COOKIE",
            app_settings.ACCESS_COOKIE,
            app_settings.COOKIE_SECURE,
            app_settings.COOKIE_DOMAIN,
            "/",
        ),
        (
            "refresh",
            "TOKENS_REFRESH_COOKIE",
            app_settings.REFRESH_COOKIE,
            app_settings.COOKIE_SECURE,
            app_settings.COOKIE_DOMAIN,
            app_settings.REFRESH_COOKIE_PATH,
        ),
        # Cookie authentication rests on Django's CSRF check; a CSRF token
        # planted by a sibling subdomain would pass it.
        (
            "CSRF",
            "CSRF_COOKIE_NAME",
            settings.CSRF_COOKIE_NAME,
            settings.CSRF_COOKIE_SECURE,
            settings.CSRF_COOKIE_DOMAIN,
            settings.CSRF_COOKIE_PATH,
        ),
    ]


def _blockers(setting: str, secure: bool, domain: str | None, path: str) -> list[tuple[str, str]]:
    """Why a cookie cannot carry the __Host- prefix: (the reason, what to change)."""
    prefix = "TOKENS_COOKIE" if setting.startswith("TOKENS_") else "CSRF_COOKIE"
    path_setting = "TOKENS_REFRESH_COOKIE_PATH" if setting == "TOKENS_REFRESH_COOKIE" else f"{prefix}_PATH"
    found = []
    if not secure:
        found.append((f"{prefix}_SECURE is off", f"turn {prefix}_SECURE on"))
    if domain:
        found.append((f"{prefix}_DOMAIN is set", f"remove {prefix}_DOMAIN (host-only cookies)"))
    if path != "/":
        found.append((f"{path_setting} is {path!r}", f"set {path_setting} to '/'"))
    return found


@register(Tags.security)
def check_cookie_prefixes(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors = []
    for cookie, setting, name, secure, domain, path in _prefixed_cookies():
        blockers = _blockers(setting, secure, domain, path)
        if name.startswith(_HOST_PREFIX):
            if blockers:
                reason, fix = blockers[0]
                errors.append(
                    message(Error, "E030", cookie=cookie, name=name, reason=reason, setting=setting, fix=fix)
                )
        elif not settings.DEBUG:
            if blockers:
                fix = "To use the __Host- prefix: " + "; ".join(fix for _, fix in blockers) + "."
            elif setting.startswith("TOKENS_"):
                fix = f"Name it '__Host-{name}', or remove {setting} (the default name has the prefix)."
            else:
                fix = f"Set {setting} = '__Host-{name}' (JavaScript clients read it by that name)."
            errors.append(message(Warning, "W030", cookie=cookie, name=name, fix=fix))
    return errors
