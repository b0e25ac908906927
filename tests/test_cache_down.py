"""Redis down: every check falls back to the database (slower, still right),
with a warning in the log. Runs on both legs: the cache here is a RedisCache
pointed at a closed port, whatever the run's own cache is."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from tests.conftest import login
from tests.forge import ACCESS_COOKIE
from tests.live_servers import closed_port
from tokens_app.conf import app_settings


# Django's backend, and ours with its own per-request read (cache.get_ints).
@pytest.fixture(params=["django.core.cache.backends.redis.RedisCache", "authproject.cache.RedisCache"])
def dead_redis(request):
    caches = {
        "default": {
            "BACKEND": request.param,
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    # A context manager, not the settings fixture: the live cache must be back
    # before the autouse fixture clears it at teardown.
    with override_settings(CACHES=caches):
        yield


def test_with_redis_down_each_request_is_checked_in_the_database_with_a_warning(
    alice, dead_redis, caplog, django_assert_num_queries
):
    assert app_settings.IMMEDIATE_REVOCATION  # on by default with a shared cache
    client = Client()
    assert login(client).status_code == 302

    with caplog.at_level(logging.WARNING, logger="tokens_app.revocation"):
        # token_version and the device session, both from the database, in one query.
        with django_assert_num_queries(1):
            page = client.get("/")

    assert page.status_code == 200
    assert b"Hello, alice" in page.content
    assert "cache unavailable: checking token_version in the database" in caplog.text


def test_with_redis_down_a_force_logout_still_ends_access_at_once(
    alice, dead_redis, caplog, django_capture_on_commit_callbacks
):
    client = Client()
    assert login(client).status_code == 302
    assert client.get("/api/auth/me/").status_code == 200

    with caplog.at_level(logging.WARNING, logger="tokens_app.revocation"):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("force_logout", "alice", stdout=io.StringIO())
    assert "cache unavailable: could not write" in caplog.text

    api = client.get("/api/auth/me/")
    assert (api.status_code, api.json()["code"]) == (401, "token_revoked")
    page = client.get("/")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")


def test_with_redis_down_ending_one_device_still_ends_its_access_at_once(alice, dead_redis):
    client = Client()
    assert login(client).status_code == 302
    access = client.cookies[ACCESS_COOKIE].value
    assert client.get("/").status_code == 200

    assert client.post("/api/auth/logout/").status_code == 200

    # The logout response cleared the cookies; a copy of the still-unexpired
    # access token replayed by hand is refused: the database says the session ended.
    replay = Client()
    replay.cookies[ACCESS_COOKIE] = access
    api = replay.get("/api/auth/me/")
    assert (api.status_code, api.json()["code"]) == (401, "token_revoked")


@pytest.mark.server
def test_clearing_the_cache_between_tests_spares_other_keys_in_the_same_redis():
    # The run's cache may share a Redis database with other apps (or another
    # test run): clear_cache() removes this run's prefixed keys only.
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from tests.conftest import clear_cache

    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    client = cache._cache.get_client(write=True)
    client.set("someone-else:key", "kept", ex=60)
    cache.set("ours", "gone")
    try:
        clear_cache()
        assert cache.get("ours") is None
        assert client.get("someone-else:key") == b"kept"
    finally:
        client.delete("someone-else:key")
