"""A project with its own ``accounts.User(TokenVersionMixin, AbstractUser)``."""

from authproject.settings import *  # noqa: F403
from authproject.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.user_models.accounts"]
AUTH_USER_MODEL = "accounts.User"
