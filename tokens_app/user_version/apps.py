from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UserVersionConfig(AppConfig):
    name = "tokens_app.user_version"
    label = "tokens_app_user_version"
    verbose_name = _("Tokens: token versions")
    default_auto_field = "django.db.models.BigAutoField"
