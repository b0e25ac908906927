"""The demo site's own case: AUTH_USER_MODEL = "tokens_app.User"."""

from authproject.settings import *  # noqa: F403
