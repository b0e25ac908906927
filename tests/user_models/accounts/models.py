"""A project's own user model, built as docs/install.md says: the mixin first."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser

from tokens_app.models import TokenVersionMixin


class User(TokenVersionMixin, AbstractUser):
    pass
