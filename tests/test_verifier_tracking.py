"""The verifier's RedisRevocations with tracking: answered from memory, kept
honest by Redis the way the site's own workers are (tokens_app/local_cache.py).

Redis is a server of the test's own (tests/tracking_support.py): the tests
count its commands, kill its connections, flush and stop it. The site's
revocations are simulated as another app server commits them: the database,
then the write-through to Redis and one more round trip.
"""

from __future__ import annotations

import threading
import uuid

import pytest
import redis

from tests.tracking_support import (
    bump_elsewhere,
    end_device_elsewhere,
    publish_elsewhere,
    run_to_a_clean_exit,
    wait_until,
)
from tokens_app.tokens import issue_access
from tokens_app.verifier import AccessVerifier, RedisRevocations, Unauthorized, Unavailable

pytestmark = pytest.mark.django_db(transaction=True)

THREAD_NAME = "tokens-revocation-tracking"
KEY_PREFIX = "tracking-test"  # the one tracking_support's writes use


@pytest.fixture
def revocations(own_redis):
    """RedisRevocations as a service builds it, closed after the test."""
    made: list[RedisRevocations] = []

    def make(**options) -> RedisRevocations:
        made.append(RedisRevocations.from_url(own_redis.url, key_prefix=KEY_PREFIX, **options))
        return made[-1]

    yield make
    for source in made:
        source.close()


def verifier_with(settings, source: RedisRevocations) -> AccessVerifier:
    return AccessVerifier(
        issuer=settings.TOKENS_ISSUER, secret=settings.TOKENS_ACCESS_SECRET, revocations=source
    )


def access_of(user) -> tuple[str, str]:
    """A fresh access token of ``user`` (its current version) and its session id."""
    session_id = str(uuid.uuid4())
    return issue_access(user, session_id=session_id).token, session_id


def commands_sent(own_redis, verify) -> dict[str, int]:
    """The commands Redis ran while ``verify()`` ran, by name."""
    before = own_redis.commands()
    verify()
    after = own_redis.commands()
    return {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}


def held(own_redis, check, token: str) -> bool:
    """True once a check of ``token`` is answered without a Redis command (the
    first reads and stores; tracking starts in the background)."""
    return commands_sent(own_redis, lambda: check.verify(token)) == {}


def tracking_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == THREAD_NAME]


def test_steady_state_checks_send_no_command_to_redis(settings, alice, own_redis, revocations):
    check = verifier_with(settings, revocations(max_lag=30))
    token, _ = access_of(alice)
    assert wait_until(lambda: held(own_redis, check, token)), "never answered from memory"
    before = own_redis.commands()

    for _ in range(20):
        assert check.verify(token)["sub"] == str(alice.pk)

    assert own_redis.commands() == before


def test_a_bump_by_the_site_is_refused_by_the_very_next_check(settings, alice, own_redis, revocations):
    check = verifier_with(settings, revocations())
    token, _ = access_of(alice)
    assert wait_until(lambda: held(own_redis, check, token))

    bump_elsewhere(alice, own_redis.client)
    # No wait: the report is on this host's socket by now, and an unread
    # report makes the check read Redis.
    with pytest.raises(Unauthorized):
        check.verify(token)


def test_a_device_ended_by_the_site_is_refused_by_the_very_next_check(
    settings, alice, own_redis, revocations
):
    check = verifier_with(settings, revocations())
    ended, session_id = access_of(alice)
    kept, _ = access_of(alice)
    assert wait_until(lambda: held(own_redis, check, ended) and held(own_redis, check, kept))

    end_device_elsewhere(session_id, own_redis.client)

    with pytest.raises(Unauthorized):
        check.verify(ended)
    assert check.verify(kept)["sid"] != session_id


def test_a_version_the_site_wrote_before_the_token_was_issued_does_not_refuse_it(
    settings, alice, own_redis, revocations
):
    check = verifier_with(settings, revocations())
    bump_elsewhere(alice, own_redis.client)
    token, _ = access_of(alice)  # carries the bumped version
    assert wait_until(lambda: held(own_redis, check, token))

    assert check.verify(token)["sub"] == str(alice.pk)


def test_a_killed_tracking_connection_drops_the_entries_until_tracking_is_back(
    settings, alice, own_redis, revocations
):
    check = verifier_with(settings, revocations(max_lag=30))
    token, _ = access_of(alice)
    assert wait_until(lambda: held(own_redis, check, token))
    assert own_redis.kill_tracking() == 1

    # A write no report will announce, on the dead connection's heels:
    bump_elsewhere(alice, own_redis.client)

    with pytest.raises(Unauthorized):
        check.verify(token)
    # Re-established, with an empty memory, and used again.
    assert wait_until(lambda: own_redis.tracking_ids() != [])
    fresh, _ = access_of(alice)
    assert wait_until(lambda: held(own_redis, check, fresh))
    assert commands_sent(own_redis, lambda: check.verify(fresh)) == {}


def test_a_killed_tracking_connection_makes_the_next_check_read_redis(
    settings, alice, own_redis, revocations
):
    check = verifier_with(settings, revocations(max_lag=30))
    token, _ = access_of(alice)
    assert wait_until(lambda: held(own_redis, check, token))

    assert own_redis.kill_tracking() == 1

    # (The listener may be reconnecting meanwhile: only the MGET is the check's.)
    assert commands_sent(own_redis, lambda: check.verify(token)).get("cmdstat_mget") == 1


def test_a_flushed_redis_drops_the_entries(settings, alice, own_redis, revocations):
    check = verifier_with(settings, revocations(max_lag=30))
    token, _ = access_of(alice)
    assert wait_until(lambda: held(own_redis, check, token))

    own_redis.client.flushall()
    own_redis.client.ping()  # one more round trip, as after the site's writes

    assert commands_sent(own_redis, lambda: check.verify(token)) == {"cmdstat_mget": 1}


def test_a_value_read_before_a_bump_is_never_stored_after_it(settings, alice, own_redis):
    client = redis.Redis.from_url(own_redis.url, socket_timeout=1)
    source = RedisRevocations(client, key_prefix=KEY_PREFIX)
    check = verifier_with(settings, source)
    token, _ = access_of(alice)
    assert wait_until(lambda: held(own_redis, check, token))
    own_redis.client.flushall()  # the next check reads Redis
    own_redis.client.ping()
    read = client.mget

    def read_then_the_site_bumps(keys):
        found = read(keys)
        bump_elsewhere(alice, own_redis.client)
        return found

    client.mget = read_then_the_site_bumps
    try:
        check.verify(token)  # honoured: read before the bump
        client.mget = read
        with pytest.raises(Unauthorized):
            check.verify(token)
    finally:
        client.mget = read
        source.close()
        client.close()


def test_redis_stopped_is_unavailable_never_accepted(settings, alice, own_redis, revocations):
    check = verifier_with(settings, revocations())
    token, _ = access_of(alice)
    assert wait_until(lambda: held(own_redis, check, token))

    own_redis.stop()

    with pytest.raises(Unavailable):
        check.verify(token)
    own_redis.start()  # empty, on the same port: checks read it again
    assert wait_until(lambda: held(own_redis, check, token), timeout=10)


def test_the_local_cache_holds_at_most_its_size(settings, make_user, own_redis, revocations):
    check = verifier_with(settings, revocations(cache_size=4, max_lag=30))  # two users' entries
    ann, ben, cat = (access_of(make_user(name))[0] for name in ("ann", "ben", "cat"))
    assert wait_until(lambda: held(own_redis, check, ann))
    assert wait_until(lambda: held(own_redis, check, ben))
    assert held(own_redis, check, ann)  # ann is now the most recently used

    assert wait_until(lambda: held(own_redis, check, cat))  # ben's entries make room

    assert held(own_redis, check, ann)
    assert commands_sent(own_redis, lambda: check.verify(ben)) == {"cmdstat_mget": 1}


def test_closing_leaves_no_thread_and_no_connection_behind(settings, alice, own_redis, revocations):
    source = revocations()
    check = verifier_with(settings, source)
    token, _ = access_of(alice)
    assert wait_until(lambda: held(own_redis, check, token))
    assert len(tracking_threads()) == 1
    assert len(own_redis.tracking_ids()) == 1

    source.close()

    assert tracking_threads() == []
    # Only the test's own connection is left.
    assert wait_until(lambda: len(own_redis.client.client_list()) == 1)


def test_after_closing_each_check_reads_redis_and_starts_nothing(settings, alice, own_redis, revocations):
    source = revocations()
    check = verifier_with(settings, source)
    token, _ = access_of(alice)
    assert wait_until(lambda: held(own_redis, check, token))
    source.close()

    # (close() closed the client's connections too: a new one says HELLO.)
    assert commands_sent(own_redis, lambda: check.verify(token)).get("cmdstat_mget") == 1
    assert tracking_threads() == []
    assert own_redis.tracking_ids() == []


def test_without_tracking_each_check_is_one_mget(settings, alice, own_redis, revocations):
    check = verifier_with(settings, revocations(tracking=False))
    token, _ = access_of(alice)
    check.verify(token)  # the client's connection is open

    for _ in range(5):
        assert commands_sent(own_redis, lambda: check.verify(token)) == {"cmdstat_mget": 1}
    assert tracking_threads() == []
    assert own_redis.tracking_ids() == []


def test_reports_racing_the_heartbeat_are_never_missed(settings, alice, own_redis, revocations):
    # A heartbeat every few milliseconds: reports often arrive while the
    # listener reads an answer, or queue behind one at Redis, the windows a
    # check must not trust. The site writes as revocation.py does.
    check = verifier_with(settings, revocations(max_lag=0.02))
    token, _ = access_of(alice)
    version = check.verify(token)["ver"]
    version_key = f"tokens:ver:{alice.pk}"
    honoured = 0
    for _ in range(200):
        publish_elsewhere(own_redis.client, version_key, version)
        assert wait_until(lambda: held(own_redis, check, token))
        publish_elsewhere(own_redis.client, version_key, version + 1)
        try:
            check.verify(token)
        except Unauthorized:
            continue
        honoured += 1

    assert honoured == 0


def test_a_forked_process_tracks_on_its_own_connection_and_exits_cleanly(own_redis):
    # As under a pre-fork server: the parent checked (and started tracking)
    # before forking; the child must not use the parent's copy. No Django.
    script = f"""
import os, sys, time
import redis
from tokens_app.verifier import RedisRevocations

admin = redis.Redis.from_url("{own_redis.url}")
def tracking_connections():
    return sum(c["name"].startswith("tokens-tracking") for c in admin.client_list())
def wait_for(condition):
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)

source = RedisRevocations.from_url("{own_redis.url}", key_prefix="{KEY_PREFIX}")
claims = {{"sub": "42", "sid": "s-1", "ver": 0}}
assert source.is_revoked(claims) is False
wait_for(lambda: tracking_connections() == 1)
child = os.fork()
if child == 0:
    status = 1
    try:
        assert source.is_revoked(claims) is False
        wait_for(lambda: tracking_connections() == 2)
        admin.set("{KEY_PREFIX}:1:tokens:ver:42", 1)
        admin.ping()
        assert source.is_revoked(claims) is True
        source.close()
        status = 0
    finally:
        os._exit(status)
_, status = os.waitpid(child, 0)
assert status == 0, status
assert source.is_revoked(claims) is True
assert not [m for m in sys.modules if m.split(".")[0] == "django"]
print("ok", flush=True)
"""
    assert run_to_a_clean_exit(script, timeout=60) == "ok"
    assert wait_until(lambda: own_redis.tracking_ids() == [])
