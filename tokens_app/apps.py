from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class TokensAppConfig(AppConfig):
    name = "tokens_app"
    verbose_name = "Tokens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.apps import apps
        from django.contrib.auth import get_user_model

        from . import (
            checks,  # noqa: F401  (registers the system checks)
            receivers,
        )

        receivers.connect(get_user_model())
        if getattr(settings, "CHANNEL_LAYERS", None):
            # Open WebSockets are closed when their session ends (websocket.py).
            from . import websocket

            websocket.connect_receivers()
        if apps.is_installed("drf_spectacular"):
            # Registers the API's OpenAPI description; without drf-spectacular
            # nothing of it (nor DRF) is imported.
            from . import schema  # noqa: F401
