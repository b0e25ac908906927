"""Settings for authproject, read from the environment.

Every variable is listed with its default in README.md ("Settings"). Nothing
secret is committed: see authproject/environment.py for how secrets are found.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .environment import (
    SETTING_VARIABLES,
    database_from_url,
    env_bool,
    env_duration,
    env_int,
    env_list,
    load_secrets,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", default=False)

_secrets = load_secrets(debug=DEBUG, local_file=BASE_DIR / ".local" / "secrets.env")
SECRET_KEY = _secrets["DJANGO_SECRET_KEY"]

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # Above the admin: the app's registration/ templates (password change and
    # reset pages) must win over the admin's own (check tokens_app.W020).
    "tokens_app",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    # This site's own commands (demo_user); it has no models or templates.
    "authproject",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "tokens_app.middleware.TokenAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "authproject.middleware.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "authproject.urls"
WSGI_APPLICATION = "authproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(os.environ.get("DATABASE_URL", "sqlite:///db.sqlite3"), base_dir=BASE_DIR)
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_redis_url = os.environ.get("REDIS_URL")
CACHES = {
    "default": (
        {
            "BACKEND": "authproject.cache.RedisCache",
            "LOCATION": _redis_url,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "authproject"),
            # A dead Redis must cost a request milliseconds, not a hang: the
            # token checks fall back to the database when the cache fails.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
        if _redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_USER_MODEL = "tokens_app.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# There are no server-side Django sessions: the auth cookies are the session,
# and flash messages travel in a signed cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
SILENCED_SYSTEM_CHECKS = [
    # The admin asks for SessionMiddleware; it authenticates through our
    # token middleware instead (a subclass of AuthenticationMiddleware).
    "admin.E410",
    # check --deploy, deliberate: HSTS includeSubDomains and preload commit
    # every subdomain (preload: irreversibly, via the browsers' list) to HTTPS.
    # Only the domain's owner can promise that; DJANGO_HSTS_INCLUDE_SUBDOMAINS=1
    # turns the first on. See docs/production.md.
    "security.W005",
    "security.W021",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `manage.py collectstatic` writes here; WhiteNoise serves it when DEBUG is off.
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Email: console in development; set EMAIL_BACKEND and the SMTP variables in production.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / ".local" / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "webmaster@localhost")

# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = False
SECURE_REFERRER_POLICY = "same-origin"
CSRF_COOKIE_SECURE = not DEBUG
# In production the __Host- prefix: only this host can set the cookie, so a
# sibling subdomain cannot plant a CSRF token of its choosing (cookie
# tossing). JavaScript clients read it by this name (README, "The JSON API").
CSRF_COOKIE_NAME = "csrftoken" if DEBUG else "__Host-csrftoken"
CSRF_FAILURE_VIEW = "authproject.errors.csrf_failure"
SESSION_COOKIE_SECURE = not DEBUG  # unused (no sessions), kept true for check --deploy
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tokens_app.authentication.CookieTokenAuthentication",
        # Native apps: Authorization: Bearer <access> (docs/integrations.md).
        "tokens_app.authentication.BearerTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "tokens_app.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI schema at /api/schema/ (tokens_app/schema.py adds what the code cannot say).
SPECTACULAR_SETTINGS = {
    "TITLE": "authproject API",
    "DESCRIPTION": "Cookie-based JWT authentication: log in, refresh, log out, devices.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema is public and read without cookies (no CSRF, no token checks).
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
}

# The token app. Defaults and meanings: tokens_app/conf.py.
TOKENS_ACCESS_SECRET = _secrets["ACCESS_TOKEN_SECRET"]
TOKENS_REFRESH_SECRET = _secrets["REFRESH_TOKEN_SECRET"]
TOKENS_ACCESS_SECRET_FALLBACKS = env_list("ACCESS_TOKEN_SECRET_FALLBACKS")
TOKENS_REFRESH_SECRET_FALLBACKS = env_list("REFRESH_TOKEN_SECRET_FALLBACKS")
# Access tokens may instead be signed with a private key that other services
# verify through /.well-known/jwks.json (docs/key-rotation.md).
TOKENS_ACCESS_ALGORITHM = os.environ.get("ACCESS_TOKEN_ALGORITHM", "HS256")
TOKENS_ACCESS_PRIVATE_KEY_FILE = os.environ.get("ACCESS_TOKEN_PRIVATE_KEY_FILE", "")
TOKENS_ACCESS_PUBLIC_KEY_FALLBACK_FILES = env_list("ACCESS_TOKEN_PUBLIC_KEY_FALLBACK_FILES")
TOKENS_AUDIENCE = os.environ.get("TOKENS_AUDIENCE") or None
TOKENS_ACCESS_LIFETIME = env_duration("ACCESS_TOKEN_EXPIRY", "5m")
TOKENS_REFRESH_LIFETIME = env_duration("REFRESH_TOKEN_EXPIRY", "14d")
TOKENS_ISSUER = os.environ.get("TOKENS_ISSUER", "authproject")
TOKENS_ENVIRONMENT_NAMES = SETTING_VARIABLES
if "TOKENS_IMMEDIATE_REVOCATION" in os.environ:
    TOKENS_IMMEDIATE_REVOCATION = env_bool("TOKENS_IMMEDIATE_REVOCATION")
# Behind the proxy every request comes from the proxy's address: name the
# header the proxy writes the client's address into (X-Forwarded-For), or
# every per-client limit is one limit for the whole site. docs/production.md.
TOKENS_CLIENT_IP_HEADER = os.environ.get("TOKENS_CLIENT_IP_HEADER", "").strip() or None
TOKENS_TRUSTED_PROXY_COUNT = env_int("TOKENS_TRUSTED_PROXY_COUNT", 1, minimum=1)
# Session policies (docs/sessions.md#session-policies).
TOKENS_SESSION_MAX_LIFETIME = env_duration("SESSION_MAX_LIFETIME", "30d")
TOKENS_BROWSER_SESSION_MAX_LIFETIME = env_duration("BROWSER_SESSION_MAX_LIFETIME", "12h")
TOKENS_REAUTHENTICATION_TIMEOUT = env_duration("REAUTHENTICATION_TIMEOUT", "10m")
TOKENS_SESSION_LIMIT = None
if os.environ.get("SESSION_LIMIT"):
    if not os.environ["SESSION_LIMIT"].isdigit() or int(os.environ["SESSION_LIMIT"]) < 1:
        raise ImproperlyConfigured("SESSION_LIMIT must be a whole number of devices (1 or more), or unset.")
    TOKENS_SESSION_LIMIT = int(os.environ["SESSION_LIMIT"])
TOKENS_NEW_DEVICE_ALERTS = env_bool("NEW_DEVICE_ALERTS", default=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # Server errors with their traceback, minus cookies, tokens and passwords.
        "redacted": {
            "()": "authproject.logs.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "filters": {"production": {"()": "django.utils.log.RequireDebugFalse"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        # Django logs 500s on django.request but, without ADMINS, sends them
        # nowhere when DEBUG is off (in development its own console shows them).
        "errors": {
            "class": "logging.StreamHandler",
            "formatter": "redacted",
            "level": "ERROR",
            "filters": ["production"],
        },
    },
    "loggers": {
        "tokens_app": {"handlers": ["console"], "level": os.environ.get("TOKENS_LOG_LEVEL", "INFO")},
        "authproject": {"handlers": ["console"], "level": os.environ.get("TOKENS_LOG_LEVEL", "INFO")},
        "django.request": {"handlers": ["errors"], "level": "ERROR"},
    },
}
