"""System checks for unsafe or broken token settings. Ids are stable; texts live here."""

from __future__ import annotations

from datetime import timedelta
from string import Formatter

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured

from . import keys
from .conf import MissingSetting, app_settings, setting_name

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
    "W008": (
        "Sessions without remember me may last {browser}, longer than remembered ones ({remembered}).",
        "Set TOKENS_BROWSER_SESSION_MAX_LIFETIME (BROWSER_SESSION_MAX_LIFETIME) below "
        "TOKENS_SESSION_MAX_LIFETIME (SESSION_MAX_LIFETIME): unticking remember me should mean shorter.",
    ),
}

# Only this host can set a cookie so named: no sibling subdomain can plant one.
_HOST_PREFIX = "__Host-"


def _format(template: str, fmt: dict) -> str:
    # {TOKENS_X} (any upper-case field) names a setting: shown with the
    # environment variable the project reads it from, when it says so.
    names = {
        field: setting_name(field)
        for _, field, _, _ in Formatter().parse(template)
        if field and field.isupper() and field not in fmt
    }
    return template.format(**names, **fmt)


def _message(kind, check_id: str, obj=None, **fmt):
    text, hint = MESSAGES[check_id]
    return kind(_format(text, fmt), hint=_format(hint, fmt), id=f"tokens_app.{check_id}", obj=obj)


@register(Tags.security, Tags.compatibility)
def check_middleware(app_configs=None, **kwargs):
    middleware = list(settings.MIDDLEWARE)
    errors = []
    if MIDDLEWARE_PATH not in middleware:
        errors.append(_message(Error, "E001"))
    if "django.contrib.auth.middleware.AuthenticationMiddleware" in middleware:
        errors.append(_message(Error, "E002"))
    return errors + _check_sessions(middleware)


_SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
# Message storages that read request.session: SessionStorage, and the default
# FallbackStorage, which builds one on every request.
_SESSION_MESSAGE_STORAGES = (
    "django.contrib.messages.storage.session.SessionStorage",
    "django.contrib.messages.storage.fallback.FallbackStorage",
)
_DATABASE_SESSION_ENGINES = (
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
)


def _check_sessions(middleware: list[str]) -> list:
    """Django sessions are optional beside our tokens; these combinations
    would fail on every request or every django.contrib.auth.login()."""
    from django.apps import apps

    errors = []
    storage = getattr(settings, "MESSAGE_STORAGE", _SESSION_MESSAGE_STORAGES[1])
    if (
        "django.contrib.messages.middleware.MessageMiddleware" in middleware
        and _SESSION_MIDDLEWARE not in middleware
        and storage in _SESSION_MESSAGE_STORAGES
    ):
        errors.append(_message(Error, "E011", storage=storage))
    engine = settings.SESSION_ENGINE
    if (
        _SESSION_MIDDLEWARE in middleware
        and engine in _DATABASE_SESSION_ENGINES
        and not apps.is_installed("django.contrib.sessions")
    ):
        errors.append(_message(Error, "E012", engine=engine))
    return errors


@register(Tags.models)
def check_user_model(app_configs=None, **kwargs):
    from django.apps import apps
    from django.contrib.auth import get_user_model

    from .models import TokenVersionMixin

    model = get_user_model()
    try:
        model._meta.get_field("token_version")
    except FieldDoesNotExist:
        if apps.is_installed("tokens_app.user_version"):
            return []  # the one-to-one storage (versions.py)
        return [_message(Error, "E003", model=model._meta.label)]
    if not issubclass(model, TokenVersionMixin):
        return [_message(Error, "E010", model=model._meta.label)]
    return []


def _named_secrets(kind: str, current: str, fallbacks: list[str]) -> list[tuple[str, str]]:
    return [(kind, current)] + [(f"{kind} fallback #{n}", key) for n, key in enumerate(fallbacks, 1)]


@register(Tags.security)
def check_keys(app_configs=None, **kwargs):
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
            _message(Error, "E020", name=setting_name(name))
            for name in required
            if not getattr(settings, name, None)
        ]
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


@register(Tags.templates)
def check_app_order(app_configs=None, **kwargs):
    apps = list(settings.INSTALLED_APPS)
    names = [app.split(".apps.")[0] for app in apps]
    if "tokens_app" in names and "django.contrib.admin" in names:
        if names.index("tokens_app") > names.index("django.contrib.admin"):
            return [_message(Warning, "W020")]
    return []


@register(deploy=True)
def check_static_files_collected(app_configs=None, **kwargs):
    """Production storage with a manifest (Django's or WhiteNoise's) needs
    collectstatic before the first request, or every page answers 500."""
    from django.contrib.staticfiles.storage import ManifestFilesMixin
    from django.core.files.storage import storages

    storage = storages["staticfiles"]
    if settings.DEBUG or not isinstance(storage, ManifestFilesMixin) or not storage.manifest_strict:
        return []
    if storage.read_manifest() is not None:
        return []
    return [
        _message(
            Error,
            "E021",
            storage=type(storage).__name__,
            manifest=storage.manifest_storage.path(storage.manifest_name),
            root=settings.STATIC_ROOT,
        )
    ]


@register(Tags.security, deploy=True)
def check_client_ip_source(app_configs=None, **kwargs):
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and not app_settings.CLIENT_IP_HEADER:
        return [_message(Warning, "W010")]
    return []


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
def check_cookie_prefixes(app_configs=None, **kwargs):
    errors = []
    for cookie, setting, name, secure, domain, path in _prefixed_cookies():
        blockers = _blockers(setting, secure, domain, path)
        if name.startswith(_HOST_PREFIX):
            if blockers:
                reason, fix = blockers[0]
                errors.append(
                    _message(Error, "E030", cookie=cookie, name=name, reason=reason, setting=setting, fix=fix)
                )
        elif not settings.DEBUG:
            if blockers:
                fix = "To use the __Host- prefix: " + "; ".join(fix for _, fix in blockers) + "."
            elif setting.startswith("TOKENS_"):
                fix = f"Name it '__Host-{name}', or remove {setting} (the default name has the prefix)."
            else:
                fix = f"Set {setting} = '__Host-{name}' (JavaScript clients read it by that name)."
            errors.append(_message(Warning, "W030", cookie=cookie, name=name, fix=fix))
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
