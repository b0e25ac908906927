"""Checks that the app is installed in a way that can work: middleware, sessions,
the user model, the order of apps, collected static files."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist

from .messages import MIDDLEWARE_PATH, message


@register(Tags.security, Tags.compatibility)
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    middleware = list(settings.MIDDLEWARE)
    errors = []
    if MIDDLEWARE_PATH not in middleware:
        errors.append(message(Error, "E001"))
    if "django.contrib.auth.middleware.AuthenticationMiddleware" in middleware:
        errors.append(message(Error, "E002"))
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


def _check_sessions(middleware: list[str]) -> list[CheckMessage]:
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
        errors.append(message(Error, "E011", storage=storage))
    engine = settings.SESSION_ENGINE
    if (
        _SESSION_MIDDLEWARE in middleware
        and engine in _DATABASE_SESSION_ENGINES
        and not apps.is_installed("django.contrib.sessions")
    ):
        errors.append(message(Error, "E012", engine=engine))
    return errors


@register(Tags.models)
def check_user_model(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from django.apps import apps
    from django.contrib.auth import get_user_model

    from tokens_app.models import TokenVersionMixin

    model = get_user_model()
    try:
        model._meta.get_field("token_version")
    except FieldDoesNotExist:
        if apps.is_installed("tokens_app.user_version"):
            return []  # the one-to-one storage (versions.py)
        return [message(Error, "E003", model=model._meta.label)]
    if not issubclass(model, TokenVersionMixin):
        return [message(Error, "E010", model=model._meta.label)]
    return []


@register(Tags.templates)
def check_app_order(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    apps = list(settings.INSTALLED_APPS)
    names = [app.split(".apps.")[0] for app in apps]
    if "tokens_app" in names and "django.contrib.admin" in names:
        if names.index("tokens_app") > names.index("django.contrib.admin"):
            return [message(Warning, "W020")]
    return []


@register(deploy=True)
def check_static_files_collected(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
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
        message(
            Error,
            "E021",
            storage=type(storage).__name__,
            manifest=storage.manifest_storage.path(storage.manifest_name),
            root=settings.STATIC_ROOT,
        )
    ]
