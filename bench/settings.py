"""Settings for the benchmark server: the project's own settings plus what the
comparison arms need. Never used outside bench/.

Added on top of authproject.settings:
- ``django.contrib.sessions`` with database sessions and SessionMiddleware, for
  the Django-sessions arm. SessionMiddleware is lazy: it touches the database
  only when a view reads ``request.session``, so it costs the other arms a
  cookie lookup and nothing more. It is in the stack for every arm, so all
  arms run through the same middleware.
- ``DjangoSessionArmMiddleware`` right after our token middleware: Django's own
  AuthenticationMiddleware, switched on for the ``/bench/django/`` path only.
- djangorestframework-simplejwt, the peer: its blacklist app, rotation with
  blacklisting after rotation (its recommended rotating setup), signed with
  HS256 under SECRET_KEY (its default). Its views sit behind the same stack.
- ``QueryCountMiddleware`` outermost: counts SQL when asked (see bench/middleware.py).
- Plain HTTP on loopback: no HTTPS redirect; static files are not served here.
"""

from datetime import timedelta

from authproject.settings import *  # noqa: F403
from authproject.settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "django.contrib.sessions",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
]
SIMPLE_JWT = {
    # As long as ours in the bench (ACCESS_TOKEN_EXPIRY=2h): no token expires mid-run.
    "ACCESS_TOKEN_LIFETIME": timedelta(hours=2),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
}

_stack = list(MIDDLEWARE)
_stack.insert(
    _stack.index("django.middleware.common.CommonMiddleware"),
    "django.contrib.sessions.middleware.SessionMiddleware",
)
_stack.insert(
    _stack.index("tokens_app.middleware.TokenAuthenticationMiddleware") + 1,
    "bench.middleware.DjangoSessionArmMiddleware",
)
MIDDLEWARE = ["bench.middleware.QueryCountMiddleware", *_stack]

ROOT_URLCONF = "bench.urls"
SESSION_ENGINE = "django.contrib.sessions.backends.db"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECURE_SSL_REDIRECT = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Every login and refresh logs an audit line at INFO; at thousands per second
# that would measure the terminal, not the code.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"tokens_app": {"handlers": ["console"], "level": "WARNING"}},
}
