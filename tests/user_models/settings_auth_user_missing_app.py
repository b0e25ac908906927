"""Django's default ``auth.User`` without tokens_app.user_version: check E003."""

from authproject.settings import *  # noqa: F403

AUTH_USER_MODEL = "auth.User"
