"""Async requests check revocation on the event loop (tokens_app/async_cache.py):
a check that misses the worker's memory reads Redis with redis-py's asyncio
client, and only what needs the database goes to a thread, so every answer is
the sync check's.

On a redis-server of the test's own (tests/tracking_support.py): the tests
count its commands and stop it. The "other app server" that revokes commits
as one would: the database, then the write-through to Redis.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.test import AsyncClient, override_settings

from tests.tracking_support import (
    access_client,
    bump_elsewhere,
    cache_on,
    end_device_elsewhere,
    own_redis_server,
    publish_elsewhere,
    tracking_live,
    wait_until,
)
from tokens_app import revocation_check, tracking
from tokens_app.conf import app_settings
from tokens_app.testing import force_login
from tokens_app.tokens import verify_access

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.urls_clients")]


@pytest.fixture(scope="module")
def _module_redis(tmp_path_factory):
    with own_redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def own_redis(_module_redis):
    """This module's redis-server, emptied for each test: the tests count its
    commands as differences."""
    _module_redis.client.flushdb()
    return _module_redis


@pytest.fixture
def redis_of_its_own(tmp_path):
    """A redis-server for one test: it stops it, or counts its connections."""
    with own_redis_server(tmp_path) as server:
        yield server


@pytest.fixture
def no_thread_hop(monkeypatch):
    """The revocation check may not send anything to a thread."""

    def refused(function, *args, **kwargs):
        raise AssertionError(f"{function.__qualname__} was sent to a thread")

    monkeypatch.setattr(revocation_check, "sync_to_async", refused)


@pytest.fixture
def thread_hops(monkeypatch) -> list[str]:
    """What the revocation check sends to a thread (it still runs)."""
    hops: list[str] = []
    original = revocation_check.sync_to_async

    def recording(function, *args, **kwargs):
        hops.append(function.__qualname__)
        return original(function, *args, **kwargs)

    monkeypatch.setattr(revocation_check, "sync_to_async", recording)
    return hops


def _signed_in(user) -> str:
    return force_login(access_client(""), user).access.token


def _keys(access: str) -> tuple[str, str]:
    claims = verify_access(access)
    return f"tokens:ver:{claims.sub}", f"tokens:sid:{claims.sid}"


def _in_redis(own_redis, access: str, *, version: int | None = None, ended: int = 0) -> None:
    """Both entries of ``access`` in Redis, as another server's check left them."""
    version_key, session_key = _keys(access)
    publish_elsewhere(
        own_redis.client, version_key, verify_access(access).ver if version is None else version
    )
    publish_elsewhere(own_redis.client, session_key, ended)


def _entry(own_redis, key: str) -> bytes | None:
    return own_redis.client.get(f"tracking-test:1:{key}")


def async_whoami(access: str) -> dict:
    client = AsyncClient()
    client.cookies[app_settings.ACCESS_COOKIE] = access
    return async_to_sync(client.get)("/async/whoami/").json()


def sync_answer(access: str) -> bool:
    """Whether the sync check honours ``access`` (the DRF API, in this thread)."""
    return access_client(access).get("/api/auth/me/").status_code == 200


# A new connection's handshake: each asyncio.run (and so each AsyncClient
# request here) is a new event loop, whose client connects once.
_HANDSHAKE = {"cmdstat_hello", "cmdstat_client|setinfo", "cmdstat_select"}


def _commands_sent(own_redis, action) -> dict[str, int]:
    """The commands Redis ran during ``action``, minus connection handshakes."""
    before = own_redis.commands()
    action()
    after = own_redis.commands()
    sent = {name: calls - before.get(name, 0) for name, calls in after.items()}
    return {name: calls for name, calls in sent.items() if calls and name not in _HANDSHAKE}


def test_an_async_check_that_misses_locally_reads_redis_on_the_event_loop(alice, own_redis, no_thread_hop):
    with cache_on(own_redis):
        access = _signed_in(alice)
        assert wait_until(tracking_live), "tracking was never established"
        _in_redis(own_redis, access)

        sent = _commands_sent(own_redis, lambda: async_whoami(access))

        assert sent == {"cmdstat_mget": 1}
        assert async_whoami(access)["authenticated"] is True


def test_an_event_loop_reads_redis_on_one_connection_of_its_own(alice, own_redis, no_thread_hop):
    with cache_on(own_redis, TOKENS_REVOCATION_TRACKING=False):
        access = _signed_in(alice)
        _in_redis(own_redis, access)
        claims = verify_access(access)

        async def checks() -> None:
            for _ in range(3):
                await revocation_check.aensure_not_revoked(claims)

        before = own_redis.commands()
        asyncio.run(checks())
        after = own_redis.commands()

        assert after["cmdstat_mget"] - before.get("cmdstat_mget", 0) == 3
        assert after["cmdstat_hello"] - before.get("cmdstat_hello", 0) == 1


def test_the_answer_redis_gave_on_the_event_loop_is_then_held_locally(alice, own_redis, no_thread_hop):
    with cache_on(own_redis):
        access = _signed_in(alice)
        assert wait_until(tracking_live), "tracking was never established"
        _in_redis(own_redis, access)
        local = tracking.local_cache()
        assert local is not None

        # A report of the test's own writes may still arrive and refuse the
        # first store (tracking.py's generation); a later read is kept.
        assert wait_until(lambda: async_whoami(access)["authenticated"] and local.read(_keys(access)))

        assert _commands_sent(own_redis, lambda: async_whoami(access)) == {}


def _live(user, own_redis, access: str) -> None:
    _in_redis(own_redis, access)


def _bumped(user, own_redis, access: str) -> None:
    _in_redis(own_redis, access)
    bump_elsewhere(user, own_redis.client)


def _device_ended(user, own_redis, access: str) -> None:
    _in_redis(own_redis, access)
    end_device_elsewhere(verify_access(access).sid, own_redis.client)


def _deactivated(user, own_redis, access: str) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])
    # What a check that read the inactive user from the database cached.
    _in_redis(own_redis, access, version=-1)


@pytest.mark.parametrize(
    ("change", "honoured", "on_the_loop"),
    [
        pytest.param(_live, True, True, id="live"),
        pytest.param(_bumped, False, True, id="bumped-elsewhere"),
        pytest.param(_device_ended, False, True, id="device-ended-elsewhere"),
        # -1 is below every token's version: read as stale, the database
        # answers (and says the user is inactive).
        pytest.param(_deactivated, False, False, id="user-deactivated"),
    ],
)
@pytest.mark.parametrize("tracking_on", [True, False], ids=["tracking", "no-tracking"])
def test_an_async_check_gives_the_sync_answer(
    alice, own_redis, thread_hops, change, honoured, on_the_loop, tracking_on
):
    with cache_on(own_redis, TOKENS_REVOCATION_TRACKING=tracking_on):
        access = _signed_in(alice)
        change(alice, own_redis, access)

        answer = async_whoami(access)["authenticated"]
        hops = list(thread_hops)

        assert answer is honoured
        assert sync_answer(access) is honoured
        assert (hops == []) is on_the_loop, hops


@pytest.mark.parametrize("missing", ["ver", "sid"])
def test_an_entry_missing_in_redis_is_read_from_the_database_and_cached(
    alice, own_redis, thread_hops, missing
):
    with cache_on(own_redis):
        access = _signed_in(alice)
        _in_redis(own_redis, access)
        version_key, session_key = _keys(access)
        key = version_key if missing == "ver" else session_key
        own_redis.client.delete(f"tracking-test:1:{key}")

        assert async_whoami(access)["authenticated"] is True

        assert thread_hops == ["_filled"]
        expected = str(verify_access(access).ver) if missing == "ver" else "0"
        assert _entry(own_redis, key) == expected.encode()
        assert sync_answer(access) is True


def test_a_device_ended_before_redis_lost_its_entries_stays_ended(alice, own_redis, thread_hops):
    with cache_on(own_redis):
        access = _signed_in(alice)
        _in_redis(own_redis, access)
        end_device_elsewhere(verify_access(access).sid, own_redis.client)
        own_redis.client.flushdb()

        assert async_whoami(access)["authenticated"] is False

        assert thread_hops == ["_filled"]
        assert _entry(own_redis, _keys(access)[1]) == b"1"


def test_a_version_below_the_tokens_is_repaired_from_the_database(alice, own_redis, thread_hops):
    with cache_on(own_redis):
        access = _signed_in(alice)
        current = verify_access(access).ver
        _in_redis(own_redis, access, version=current - 1)  # a lost write-through

        assert async_whoami(access)["authenticated"] is True

        assert thread_hops == ["_filled"]
        assert _entry(own_redis, _keys(access)[0]) == str(current).encode()


def test_with_redis_stopped_the_database_answers_async_checks(alice, redis_of_its_own, caplog):
    own_redis = redis_of_its_own
    with cache_on(own_redis):
        old = _signed_in(alice)
        bump_elsewhere(alice, None)
        fresh = _signed_in(alice)
        own_redis.stop()

        with caplog.at_level(logging.WARNING, logger="tokens_app.revocation"):
            answers = [async_whoami(access)["authenticated"] for access in (old, fresh)]

        assert answers == [False, True]
        assert "cache unavailable: checking token_version in the database" in caplog.text


def test_with_tracking_off_each_async_check_reads_redis_on_the_event_loop(alice, own_redis, no_thread_hop):
    with cache_on(own_redis, TOKENS_REVOCATION_TRACKING=False):
        access = _signed_in(alice)
        _in_redis(own_redis, access)

        sent = _commands_sent(own_redis, lambda: [async_whoami(access) for _ in range(3)])

        assert sent == {"cmdstat_mget": 3}


def test_with_a_local_memory_cache_async_checks_take_the_sync_path(alice, thread_hops):
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=caches, TOKENS_IMMEDIATE_REVOCATION=True):
        access = _signed_in(alice)

        assert async_whoami(access)["authenticated"] is True
        assert thread_hops == ["ensure_not_revoked"]

        bump_elsewhere(alice, None)
        cache.clear()  # as another worker's own cache, which never held the entry
        assert async_whoami(access)["authenticated"] is False
        assert sync_answer(access) is False


def _unclosed(seen: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)]


def test_async_checks_close_their_redis_connections_with_their_loop(alice, redis_of_its_own):
    own_redis = redis_of_its_own
    with cache_on(own_redis, TOKENS_REVOCATION_TRACKING=False):
        access = _signed_in(alice)
        _in_redis(own_redis, access)
        assert async_whoami(access)["authenticated"] is True
        before = len(own_redis.client.client_list())

        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            for _ in range(3):
                assert async_whoami(access)["authenticated"] is True
            gc.collect()

        assert _unclosed(seen) == []
        assert wait_until(lambda: len(own_redis.client.client_list()) == before)


def test_a_cache_settings_change_gives_the_loop_a_new_client_and_closes_the_old(
    alice, redis_of_its_own, tmp_path
):
    own_redis = redis_of_its_own
    access = _signed_in(alice)
    claims = verify_access(access)
    (tmp_path / "other").mkdir()
    mine = len(own_redis.client.client_list())

    async def checks() -> list[bool]:
        seen = []
        with cache_on(own_redis, TOKENS_REVOCATION_TRACKING=False):
            _in_redis(own_redis, access)
            await revocation_check.aensure_not_revoked(claims)
            seen.append(wait_until(lambda: len(own_redis.client.client_list()) == mine + 1))
        with (
            own_redis_server(tmp_path / "other") as other,
            cache_on(other, TOKENS_REVOCATION_TRACKING=False),
        ):
            _in_redis(other, access)
            await revocation_check.aensure_not_revoked(claims)
            # The old client is closed; the new one reads the new server.
            seen.append(wait_until(lambda: len(own_redis.client.client_list()) == mine))
            seen.append(wait_until(lambda: len(other.client.client_list()) == 2))
        return seen

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert asyncio.run(checks()) == [True, True, True]
        gc.collect()

    assert _unclosed(seen) == []
