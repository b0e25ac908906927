"""The texts of every system check, by stable id: one place to read and reword them.

A message is (text, hint). ``{field}`` is filled by the check; ``{TOKENS_X}``
(an upper-case field) names a setting, with the environment variable the
project reads it from when it says so (TOKENS_ENVIRONMENT_NAMES).
"""

from __future__ import annotations

from string import Formatter
from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from tokens_app.conf import setting_name

MIDDLEWARE_PATH = "tokens_app.middleware.TokenAuthenticationMiddleware"

MESSAGES = {
    "E001": (
        f"'{MIDDLEWARE_PATH}' is not in MIDDLEWARE.",
        f"Edit your MIDDLEWARE setting to insert '{MIDDLEWARE_PATH}' after "
        "'django.middleware.csrf.CsrfViewMiddleware'.",
    ),
    "E002": (
        "Django's AuthenticationMiddleware is installed beside the token middleware.",
        "Remove 'django.contrib.auth.middleware.AuthenticationMiddleware' from MIDDLEWARE: the token "
        "middleware sets request.user. SessionMiddleware may stay (request.session keeps working).",
    ),
    "E003": (
        "The user model {model} has no 'token_version' field.",
        "Build your user model on the app's mixin, then run makemigrations:\n"
        "    from tokens_app.models import TokenVersionMixin\n"
        "    class User(TokenVersionMixin, AbstractUser): ...\n"
        "(or subclass tokens_app.models.AbstractTokenUser). For a user model you "
        "cannot change, such as Django's default auth.User, add 'tokens_app.user_version' "
        "to INSTALLED_APPS instead: the version then lives in a table of its own.",
    ),
    "E010": (
        "The user model {model} has a 'token_version' field without the save() guard.",
        "Add tokens_app.models.TokenVersionMixin to its bases and remove the field you "
        "declared: without the guard, saving an instance loaded before a force logout "
        "writes the old version back and revives every session it ended.",
    ),
    "E011": (
        "MESSAGE_STORAGE {storage!r} keeps messages in request.session, but "
        "'django.contrib.sessions.middleware.SessionMiddleware' is not in MIDDLEWARE.",
        "Set MESSAGE_STORAGE = 'django.contrib.messages.storage.cookie.CookieStorage', or insert "
        "'django.contrib.sessions.middleware.SessionMiddleware' into MIDDLEWARE before "
        "'django.contrib.messages.middleware.MessageMiddleware'.",
    ),
    "E012": (
        "SessionMiddleware stores sessions with {engine!r}, but 'django.contrib.sessions' is not in "
        "INSTALLED_APPS: every django.contrib.auth.login() would fail on the missing table.",
        "Add 'django.contrib.sessions' to INSTALLED_APPS and run migrate, or set SESSION_ENGINE to "
        "'django.contrib.sessions.backends.signed_cookies' or '...backends.cache'.",
    ),
    "E004": (
        "Access and refresh tokens are signed with the same key ({names}).",
        "Set {TOKENS_ACCESS_SECRET} and {TOKENS_REFRESH_SECRET} (and {TOKENS_ACCESS_SECRET_FALLBACKS}, "
        "{TOKENS_REFRESH_SECRET_FALLBACKS}) to different values (`python manage.py generate_secrets`): "
        "an access token must never pass as a refresh token.",
    ),
    "E005": (
        "The access token lifetime ({access}) is not shorter than the refresh token lifetime ({refresh}).",
        "Set {TOKENS_ACCESS_LIFETIME} well below {TOKENS_REFRESH_LIFETIME} (defaults 5 minutes, 14 days).",
    ),
    "E006": (
        "The access token keys cannot be loaded: {error}",
        "Fix {TOKENS_ACCESS_ALGORITHM}, {TOKENS_ACCESS_PRIVATE_KEY_FILE} and "
        "{TOKENS_ACCESS_PUBLIC_KEY_FALLBACK_FILES} (docs/key-rotation.md).",
    ),
    "E020": (
        "The setting {name} is required and is not set.",
        "Set {name} in your settings, from the environment (never commit a secret); "
        "`python manage.py generate_secrets` prints a fresh value. See docs/install.md.",
    ),
    "E021": (
        "Static files have not been collected: {storage} has no manifest ({manifest}), so every page "
        'that links a stylesheet would fail with "Missing staticfiles manifest entry".',
        "Run `python manage.py collectstatic --noinput` as part of each release, before starting the "
        "app servers (STATIC_ROOT is {root}).",
    ),
    "W020": (
        "'tokens_app' is listed after 'django.contrib.admin' in INSTALLED_APPS.",
        "Move 'tokens_app' above 'django.contrib.admin': otherwise the admin's registration/ templates "
        "replace the app's password change and reset pages.",
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
        "in {TOKENS_ACCESS_PUBLIC_KEY_FALLBACK_FILES} and delete the private key.",
    ),
    "W002": (
        "Auth cookies are sent without the Secure attribute while DEBUG is off.",
        "Remove {TOKENS_COOKIE_SECURE} = False: tokens must only travel over HTTPS.",
    ),
    "W003": (
        "{TOKENS_COOKIE_SAMESITE} is {value!r}.",
        "Use 'Lax' (the default) or 'Strict'; 'None' sends the auth cookies on cross-site requests.",
    ),
    "W004": (
        "Access tokens live {access}: a revoked user keeps access that long.",
        "Keep {TOKENS_ACCESS_LIFETIME} at 15 minutes or less, or turn on {TOKENS_IMMEDIATE_REVOCATION} "
        "with a shared cache ({CACHES}: Redis or Memcached).",
    ),
    "W005": (
        "Immediate revocation is on with a per-process cache: other worker processes learn of a "
        "revocation only when their cached version expires (TOKENS_VERSION_CACHE_TIMEOUT).",
        "Point {CACHES}['default'] at a shared cache (Redis or Memcached) so every app server sees one.",
    ),
    "W010": (
        "SECURE_PROXY_SSL_HEADER says the site is behind a proxy, but no client-IP source is set: "
        "every per-client limit (logins, password resets, refreshes) counts the proxy's address, "
        "so one client can lock everyone out.",
        "Set TOKENS_CLIENT_IP_HEADER (the environment variable of the same name in authproject) to "
        "the header your proxy writes the client's address into, e.g. 'X-Forwarded-For', and "
        "TOKENS_TRUSTED_PROXY_COUNT to the number of proxies that append to it (docs/production.md).",
    ),
    "E030": (
        "The {cookie} cookie is named {name!r}, but {reason}: browsers refuse a __Host- cookie "
        "that is not Secure, has a Domain, or a Path other than '/'.",
        "Remove the __Host- prefix from {setting}, or {fix}.",
    ),
    "W030": (
        "The {cookie} cookie {name!r} has no __Host- prefix while DEBUG is off: a sibling "
        "subdomain can plant a same-named cookie for the parent domain (cookie tossing).",
        "{fix}",
    ),
    # Session policies (docs/sessions.md#session-policies).
    "E007": (
        "{name} is {value!r}: it must be {expected}.",
        "Fix {name} in your settings (docs/sessions.md lists each policy with its default).",
    ),
    "W009": (
        "The setting {old} is deprecated: {new} replaces it (the old name is read only while "
        "the new one is unset, until a later release drops it).",
        "Rename {old} to {new} in your settings.",
    ),
    "W008": (
        "Sessions without remember me may last {browser}, longer than remembered ones ({remembered}).",
        "Set TOKENS_BROWSER_SESSION_MAX_LIFETIME (BROWSER_SESSION_MAX_LIFETIME) below "
        "TOKENS_SESSION_MAX_LIFETIME (SESSION_MAX_LIFETIME): unticking remember me should mean shorter.",
    ),
}


def _format(template: str, fmt: dict[str, Any]) -> str:
    # {TOKENS_X} (any upper-case field) names a setting: shown with the
    # environment variable the project reads it from, when it says so.
    names = {
        field: setting_name(field)
        for _, field, _, _ in Formatter().parse(template)
        if field and field.isupper() and field not in fmt
    }
    return template.format(**names, **fmt)


def message(kind: type[Error] | type[Warning], check_id: str, obj: Any = None, **fmt: Any) -> CheckMessage:
    """The check ``tokens_app.<check_id>`` of class ``kind`` (Error, Warning), its texts filled in."""
    text, hint = MESSAGES[check_id]
    return kind(_format(text, fmt), hint=_format(hint, fmt), id=f"tokens_app.{check_id}", obj=obj)
