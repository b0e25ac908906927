"""The test run's environment, set before Django reads its settings.

Loaded with ``-p tests.environment`` (see pyproject.toml) because pytest-django
imports the settings before any conftest.py. Tests run as production does:
DEBUG off, so Secure cookies and the production start-up rules are exercised.
The secrets here are test-only values, not used anywhere else.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-django-secret-key-not-for-production-0123456789")
os.environ.setdefault("ACCESS_TOKEN_SECRET", "test-access-secret-not-for-production-0123456789abcdef")
os.environ.setdefault("REFRESH_TOKEN_SECRET", "test-refresh-secret-not-for-production-0123456789abcdef")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
# With REDIS_URL set, the tests' cache keys carry their own prefix: clearing
# them between tests (tests/conftest.py) never touches another run's keys.
os.environ.setdefault("CACHE_KEY_PREFIX", "authproject-test")
