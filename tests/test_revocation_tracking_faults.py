"""Faults under load: no revoked token gets through while Redis, or the
connection that reports its changes, breaks (tokens_app/tracking.py).

A thread keeps making requests with one access token (tracking_support.Load)
while another server (simulated as it commits: the database, then Redis)
revokes it and Redis is restarted, flushed, or the tracking connection killed.
Every request sent after the revocation committed must be refused. Redis is a
server of the test's own: restarting or flushing the shared one is not ours
to do. A database of the server leg too: the load thread and the revoking
server write at once, which SQLite's shared in-memory test database answers
with "database table is locked" rather than with a wait.
"""

from __future__ import annotations

import time

import pytest

from tests.test_revocation_tracking import _signed_in
from tests.tracking_support import (
    Load,
    bump_elsewhere,
    cache_on,
    end_device_elsewhere,
    tracking_live,
    wait_until,
)
from tokens_app.tokens import verify_access

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server]


def _more_requests(load: Load, count: int = 20) -> None:
    target = len(load.results) + count
    assert wait_until(lambda: len(load.results) >= target, timeout=30)


def test_a_revocation_while_redis_restarts_is_obeyed_through_and_after_it(alice, own_redis):
    with cache_on(own_redis):
        access, _ = _signed_in(alice)
        with Load(access) as load:
            own_redis.stop()
            _more_requests(load, 5)  # the database answers meanwhile
            # Committed on another server while Redis is down: its
            # write-through is lost, only the database knows.
            bump_elsewhere(alice, None)
            revoked_at = time.monotonic()
            _more_requests(load, 5)
            own_redis.start()  # empty, on the same port
            assert wait_until(tracking_live, timeout=10)
            _more_requests(load)

        assert load.sent_after(revoked_at) >= 30
        assert load.accepted_after(revoked_at) == []


@pytest.mark.parametrize("revoke", ["bump", "end device"])
def test_a_flush_after_a_revocation_does_not_bring_the_token_back(alice, own_redis, revoke):
    with cache_on(own_redis):
        access, _ = _signed_in(alice)
        sid = verify_access(access).sid
        with Load(access) as load:
            if revoke == "bump":
                bump_elsewhere(alice, own_redis.client)
            else:
                end_device_elsewhere(sid, own_redis.client)
            revoked_at = time.monotonic()
            _more_requests(load)
            own_redis.client.flushall()
            _more_requests(load)

        assert load.accepted_after(revoked_at) == []


def test_killing_the_tracking_connection_again_and_again_lets_no_revoked_token_through(alice, own_redis):
    with cache_on(own_redis):
        access, _ = _signed_in(alice)
        with Load(access) as load:
            for _ in range(5):
                assert own_redis.kill_tracking() == 1
                assert wait_until(lambda: tracking_live() and len(own_redis.tracking_ids()) == 1)
                _more_requests(load, 10)
            own_redis.kill_tracking()
            bump_elsewhere(alice, own_redis.client)  # reported to no one
            revoked_at = time.monotonic()
            _more_requests(load)
            assert wait_until(tracking_live)
            _more_requests(load)

        assert load.sent_after(revoked_at) >= 40
        assert load.accepted_after(revoked_at) == []
        assert len([status for _, status in load.results if status == 200]) >= 50
