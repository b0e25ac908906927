"""Revocation tracking: each worker answers revocation checks from its memory,
and Redis tells it the moment an entry it holds changes (tokens_app/tracking.py).

The Redis tests run on a redis-server of their own (tests/tracking_support.py),
whatever the run's cache is: they count its commands, kill its connections
and pause it. The "other app server" that revokes is simulated the way one
commits: token_version + 1 in the database, then the write-through to Redis.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from unittest import mock

import pytest
from django.test import override_settings

from tests.tracking_support import (
    access_client,
    bump_elsewhere,
    cache_on,
    end_device_elsewhere,
    publish_elsewhere,
    run_to_a_clean_exit,
    tracking_live,
    wait_until,
)
from tokens_app import revocation, revocation_check, tracking
from tokens_app.exceptions import TokenRevoked
from tokens_app.models import LoginSession
from tokens_app.testing import force_login
from tokens_app.tokens import verify_access

pytestmark = pytest.mark.django_db(transaction=True)

THREAD_NAME = "tokens-revocation-tracking"


def _signed_in(user) -> tuple[str, object]:
    """A fresh access token of ``user`` and its client, its revocation state
    held locally (the first check fills Redis, whose report drops that fill;
    the second fill stays)."""
    pair = force_login(access_client(""), user)
    client = access_client(pair.access.token)
    assert wait_until(tracking_live), "tracking was never established"
    claims = verify_access(pair.access.token)
    keys = (f"tokens:ver:{claims.sub}", f"tokens:sid:{claims.sid}")
    assert wait_until(lambda: client.get("/api/auth/me/").status_code == 200 and _held(keys))
    return pair.access.token, client


def _checked_and_held(claims) -> bool:
    revocation_check.ensure_not_revoked(claims)
    return _held((f"tokens:ver:{claims.sub}", f"tokens:sid:{claims.sid}"))


def _held(keys) -> bool:
    local = tracking.local_cache()
    return local is not None and local.read(keys) is not None


def test_steady_state_requests_send_no_command_to_redis(alice, own_redis):
    with cache_on(own_redis, TOKENS_TRACKING_MAX_LAG=30):
        _, client = _signed_in(alice)
        before = own_redis.commands()

        for _ in range(20):
            assert client.get("/api/auth/me/").status_code == 200

        assert own_redis.commands() == before


def test_a_bump_on_another_server_is_refused_by_the_very_next_request(alice, own_redis):
    with cache_on(own_redis):
        _, client = _signed_in(alice)

        bump_elsewhere(alice, own_redis.client)
        # No wait: the report is on this host's socket before the request is
        # read, and a reader treats an unread report as a miss.
        response = client.get("/api/auth/me/")

        assert (response.status_code, response.json()["code"]) == (401, "token_revoked")


def test_a_device_ended_on_another_server_is_refused_by_the_very_next_request(alice, own_redis):
    with cache_on(own_redis):
        access, client = _signed_in(alice)
        sid = verify_access(access).sid

        end_device_elsewhere(sid, own_redis.client)
        response = client.get("/api/auth/me/")

        assert (response.status_code, response.json().get("code")) == (401, "token_revoked")


def test_a_killed_tracking_connection_drops_the_entries_until_tracking_is_back(alice, own_redis):
    with cache_on(own_redis, TOKENS_TRACKING_MAX_LAG=30):
        _, client = _signed_in(alice)
        assert own_redis.kill_tracking() == 1

        # A write no report will announce, on the dead connection's heels:
        bump_elsewhere(alice, own_redis.client)
        response = client.get("/api/auth/me/")

        assert response.status_code == 401
        # Re-established (with an empty local cache) and used again.
        assert wait_until(lambda: tracking_live() and own_redis.tracking_ids() != [])
        access, client = _signed_in(alice)
        before = own_redis.commands()
        assert client.get("/api/auth/me/").status_code == 200
        assert own_redis.commands() == before


def test_a_lagging_tracking_connection_stops_being_trusted(alice, own_redis):
    with cache_on(own_redis, TOKENS_TRACKING_MAX_LAG=0.3):
        access, client = _signed_in(alice)
        claims = verify_access(access)
        keys = (f"tokens:ver:{claims.sub}", f"tokens:sid:{claims.sid}")
        # Redis stops answering (its heartbeat too) for a while.
        own_redis.client.client_pause(1500, all=True)
        paused_at = time.monotonic()

        assert wait_until(lambda: not _held(keys), timeout=1.0)
        assert time.monotonic() - paused_at < 1.0
        # Requests then ask Redis, and the database when Redis times out.
        assert client.get("/api/auth/me/").status_code == 200
        assert wait_until(tracking_live, timeout=5)


def test_a_value_read_before_a_report_is_never_stored_after_it(alice, own_redis, monkeypatch):
    with cache_on(own_redis):
        access, client = _signed_in(alice)
        claims = verify_access(access)
        keys = (f"tokens:ver:{claims.sub}", f"tokens:sid:{claims.sid}")
        tracking.local_cache().forget(keys)  # the next check reads Redis
        read = revocation_check._read_cache
        local = tracking.local_cache()

        def read_then_bump_elsewhere(keys):
            found = read(keys)
            before = local.generation()
            bump_elsewhere(alice, own_redis.client)
            # The report arrives (and is applied) before the value is stored.
            assert wait_until(lambda: local.generation() not in (None, before))
            return found

        monkeypatch.setattr(revocation_check, "_read_cache", read_then_bump_elsewhere)
        revocation_check.ensure_not_revoked(claims)  # honoured: read before the bump
        monkeypatch.undo()

        assert tracking.local_cache().read(keys) is None
        assert client.get("/api/auth/me/").status_code == 401


def test_a_flushed_redis_flushes_every_worker(alice, own_redis):
    with cache_on(own_redis):
        access, _ = _signed_in(alice)
        claims = verify_access(access)
        keys = (f"tokens:ver:{claims.sub}", f"tokens:sid:{claims.sid}")

        own_redis.client.flushall()

        assert wait_until(lambda: not _held(keys), timeout=1)


def test_the_local_cache_holds_at_most_its_size(make_user, own_redis):
    with cache_on(own_redis, TOKENS_TRACKING_CACHE_SIZE=4):
        for name in ("ann", "ben", "cat", "dan"):
            _signed_in(make_user(name))

        assert len(tracking.local_cache()) == 4  # two entries per user: the last two


def test_async_checks_give_the_same_answers_without_a_thread_hop(alice, own_redis, monkeypatch):
    with cache_on(own_redis):
        access, _ = _signed_in(alice)
        claims = verify_access(access)

        def no_thread_hop(function):
            raise AssertionError("answered locally, no thread needed")

        monkeypatch.setattr(revocation_check, "sync_to_async", no_thread_hop)
        assert asyncio.run(revocation_check.aensure_not_revoked(claims)) is None
        monkeypatch.undo()

        bump_elsewhere(alice, own_redis.client)
        with pytest.raises(TokenRevoked):
            asyncio.run(revocation_check.aensure_not_revoked(claims))


def test_stopping_leaves_no_thread_and_no_connection_behind(alice, own_redis):
    with cache_on(own_redis):
        _signed_in(alice)
        assert any(t.name == THREAD_NAME for t in threading.enumerate())

        tracking.stop()

        assert not any(t.name == THREAD_NAME for t in threading.enumerate())
        assert wait_until(lambda: own_redis.tracking_ids() == [])


def test_a_process_using_tracking_exits_at_once_and_cleanly(own_redis):
    script = f"""
import django, os, sys, threading
os.environ["REDIS_URL"] = "{own_redis.url}"
os.environ["DATABASE_URL"] = "sqlite://:memory:"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authproject.settings")
django.setup()
from tokens_app import tracking
from tests.tracking_support import wait_until
assert tracking.local_cache() is not None
assert wait_until(lambda: tracking.local_cache().live)
print("live", flush=True)
"""
    started = time.monotonic()
    assert run_to_a_clean_exit(script, timeout=30) == "live"
    assert time.monotonic() - started < 15
    assert wait_until(lambda: own_redis.tracking_ids() == [])


@pytest.mark.parametrize("backend", ["django.core.cache.backends.locmem.LocMemCache"])
def test_with_a_local_memory_cache_there_is_nothing_to_track(alice, backend):
    with override_settings(CACHES={"default": {"BACKEND": backend}}, TOKENS_IMMEDIATE_REVOCATION=True):
        client = access_client(force_login(access_client(""), alice).access.token)

        assert client.get("/api/auth/me/").status_code == 200
        assert tracking.local_cache() is None
        assert not any(t.name == THREAD_NAME for t in threading.enumerate())


def test_tracking_can_be_turned_off(alice, own_redis):
    with cache_on(own_redis, TOKENS_REVOCATION_TRACKING=False):
        client = access_client(force_login(access_client(""), alice).access.token)
        client.get("/api/auth/me/")
        before = own_redis.commands()

        assert client.get("/api/auth/me/").status_code == 200

        assert tracking.local_cache() is None
        assert sum(own_redis.commands().values()) == sum(before.values()) + 1  # the MGET


def test_reports_racing_the_heartbeat_are_never_missed(alice, own_redis):
    # A heartbeat every few milliseconds: reports often arrive while the
    # listener reads an answer, or queue behind one at Redis, the windows a
    # reader must not trust. The other server writes as revocation.py does.
    with cache_on(own_redis, TOKENS_TRACKING_MAX_LAG=0.02):
        access, _ = _signed_in(alice)
        claims = verify_access(access)
        version_key = f"tokens:ver:{claims.sub}"
        honoured = 0
        for _ in range(300):
            publish_elsewhere(own_redis.client, version_key, claims.ver)
            assert wait_until(functools.partial(_checked_and_held, claims))
            publish_elsewhere(own_redis.client, version_key, claims.ver + 1)
            try:
                revocation_check.ensure_not_revoked(claims)
            except TokenRevoked:
                continue
            honoured += 1

        assert honoured == 0


@pytest.mark.parametrize("revoke", ["bump", "end device"])
def test_a_revocation_returns_after_one_more_round_trip_to_redis(alice, own_redis, revoke):
    # Its answer leaves Redis after every report of the write-through, which
    # can otherwise leave a moment after the write's own answer (tracking.py).
    with cache_on(own_redis):
        access, _ = _signed_in(alice)
        claims = verify_access(access)
        key = f"tracking-test:1:tokens:{'ver' if revoke == 'bump' else 'sid'}:"
        key += str(claims.sub if revoke == "bump" else claims.sid)
        with own_redis.monitor() as seen:
            if revoke == "bump":
                revocation.bump_token_version(alice, reason="test")
            else:
                revocation.revoke_session(LoginSession.objects.get(pk=claims.sid), reason="test")

        commands = [command for command in seen if command[0] != "PING"]
        written = commands.index(["SET", key, mock.ANY, "EX", mock.ANY])
        assert ["GET", key] in commands[written + 1 :]


def test_a_site_that_does_not_track_still_makes_the_round_trip_for_services_that_do(alice, own_redis):
    # verifier.RedisRevocations may track the site's Redis when the site does not.
    with cache_on(own_redis, TOKENS_REVOCATION_TRACKING=False):
        with own_redis.monitor() as seen:
            revocation.bump_token_version(alice, reason="test")

        key = f"tracking-test:1:tokens:ver:{alice.pk}"
        written = seen.index(["SET", key, mock.ANY, "EX", mock.ANY])
        assert ["GET", key] in seen[written + 1 :]
