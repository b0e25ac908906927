from __future__ import annotations

from django.apps import AppConfig


class TokensAppConfig(AppConfig):
    name = "tokens_app"
    verbose_name = "Tokens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from . import (
            checks,  # noqa: F401  (registers the system checks)
            receivers,
        )

        receivers.connect(get_user_model())
