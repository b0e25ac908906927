from __future__ import annotations

import pytest
from django.test import Client

from tokens_app.testing import force_login

pytest_plugins = ["tokens_app.testing.pytest_plugin"]

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_hasher_and_fresh_cache(settings):
    # The real hasher is slow by design; tests are about tokens, not PBKDF2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The hashed-manifest storage needs collectstatic; the servers the
    # browser and multi-server tests start run with it for real.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own, on a free loopback port, for tests
    that count its commands, kill its connections, flush or stop it
    (tests/tracking_support.py)."""
    from tests.tracking_support import own_redis_server

    with own_redis_server(tmp_path) as server:
        yield server


@pytest.fixture(autouse=True)
def _background_work_done_when_the_response_is():
    """Tests read the outbox right after a request: let the test client's end
    of a request (its request_finished) wait for the background thread.
    tests/test_reset_hardening.py takes this away to time the request alone."""
    from django.core.signals import request_finished

    from tokens_app import background

    def flush(**kwargs) -> None:
        background.flush(timeout=10)

    request_finished.connect(flush, dispatch_uid="tests.flush_background")
    yield
    request_finished.disconnect(dispatch_uid="tests.flush_background")
    background.flush(timeout=10)


def clear_cache() -> None:
    """Empty the test run's cache entries, and only those.

    ``cache.clear()`` on Redis is FLUSHDB: it would wipe whatever else shares
    the database. Our keys all start with KEY_PREFIX (CACHE_KEY_PREFIX, set
    per run in tests/environment.py), so delete exactly those.
    """
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]  # the backend itself: django.core.cache.cache is a proxy
    if not isinstance(cache, RedisCache):
        cache.clear()
        return
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{cache.key_prefix}:*", count=500))
    if keys:
        client.delete(*keys)


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def make_user(db, django_user_model):
    def make(username: str = "alice", **fields):
        fields.setdefault("email", f"{username}@example.com")
        return django_user_model.objects.create_user(username=username, password=PASSWORD, **fields)

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


def login(
    client: Client, username: str = "alice", password: str = PASSWORD, *, remember: bool = True, **extra
):
    """Sign in through the HTML form, as a browser does: "Remember me" starts
    ticked (TOKENS_REMEMBER_ME_DEFAULT), so it is sent unless ``remember=False``."""
    data = {"username": username, "password": password}
    if remember:
        data["remember"] = "on"
    return client.post("/accounts/login/", data, **extra)


def signed_in(
    username: str = "alice",
    password: str = PASSWORD,
    *,
    user_agent: str | None = None,
    ip: str | None = None,
    remember: bool = True,
) -> Client:
    """A browser signed in through the login form, as a person signs in: the
    tests' one way to get one (``alice_client`` skips the form, for speed)."""
    headers = {"HTTP_USER_AGENT": user_agent, "REMOTE_ADDR": ip}
    client = Client(**{name: value for name, value in headers.items() if value is not None})
    response = login(client, username, password, remember=remember)
    assert response.status_code == 302, response.content
    return client


@pytest.fixture
def alice_client(alice) -> Client:
    """A browser signed in as alice, through the app's own test helper."""
    client = Client()
    force_login(client, alice)
    return client


@pytest.fixture
def django_sessions(settings):
    """A project as startproject makes it: SessionMiddleware first, the default
    (session-backed) message storage, Django's login pages on test URLs."""
    settings.MIDDLEWARE = [
        settings.MIDDLEWARE[0],
        "django.contrib.sessions.middleware.SessionMiddleware",
        *settings.MIDDLEWARE[1:],
    ]
    # No django_session table in this test database: the cache engine needs none.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.fallback.FallbackStorage"  # the default
    settings.ROOT_URLCONF = "tests.urls_django_login"
    return settings


@pytest.fixture
def reused_signals():
    """What refresh_token_reused sent during the test (its keyword arguments)."""
    from tokens_app.signals import refresh_token_reused

    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    refresh_token_reused.connect(receiver)
    yield received
    refresh_token_reused.disconnect(receiver)
