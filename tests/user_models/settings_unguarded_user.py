"""A user model with a token_version field but without the save() guard: check E010."""

from authproject.settings import *  # noqa: F403
from authproject.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.user_models.unguarded"]
AUTH_USER_MODEL = "unguarded.User"
