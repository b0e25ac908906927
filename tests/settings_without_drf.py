"""This site's settings without Django REST framework and drf-spectacular: a
project that uses only the browser pages and the middleware
(tests/test_reusable_app.py runs it in a fresh process)."""

from authproject.settings import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app not in ("rest_framework", "drf_spectacular")]  # noqa: F405
del REST_FRAMEWORK, SPECTACULAR_SETTINGS  # noqa: F821
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {  # noqa: F405
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
