"""A user model that copied the old hint: the field, but not the save() guard."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    token_version = models.PositiveIntegerField(default=0, editable=False)
