from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class UserTokenVersion(models.Model):
    """A user's token_version when the user model has no such field.

    Written only by ``revocation.bump_token_version`` (an atomic ``version + 1``);
    read through ``tokens_app.versions``, joined to the user where the user is
    loaded anyway, so it costs no extra statement.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="token_version_row",
    )
    version = models.PositiveIntegerField(_("token version"), default=0)

    class Meta:
        db_table = "tokens_app_usertokenversion"
        verbose_name = _("token version")

    def __str__(self) -> str:
        return f"{self.pk}: {self.version}"
