from __future__ import annotations

from django.apps import AppConfig


class UnguardedConfig(AppConfig):
    name = "tests.user_models.unguarded"
    label = "unguarded"
    default_auto_field = "django.db.models.BigAutoField"
