"""A project on Django's default ``auth.User``: the version lives in tokens_app.user_version."""

from authproject.settings import *  # noqa: F403
from authproject.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tokens_app.user_version"]
AUTH_USER_MODEL = "auth.User"
