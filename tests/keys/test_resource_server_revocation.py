"""A force logout here reaches examples/resource_server (tokens_app.verifier).

The resource server is a separate process. Through the site's Redis it refuses
the very next request after the admin's force logout returns (target <= 5 ms:
one round trip), while answering from memory at steady state (tracking);
through the signed feed, within its poll interval. The measured delays are
printed (run with -s to see them).
"""

from __future__ import annotations

import os
import time

import pytest
from django.conf import settings as django_settings

from tests.tracking_support import cache_on, own_redis_server, wait_until
from tokens_app import flows
from tokens_app.models import LoginSession

from . import test_resource_server as beside
from .test_resource_server import call, sign_in_over_http

# The site and the resource server, started as in test_resource_server.py.
site = beside.site
start_resource_server = beside.start_resource_server

CREDENTIAL = "feed-credential-for-tests-0123456789abcdef"
POLL_INTERVAL = 0.5


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "x")


def seconds_until_refused(resource: str, token: str, *, limit: float) -> float:
    """From now until the resource server answers 401 to ``token``."""
    started = time.perf_counter()
    while True:
        status, _ = call(resource, token)
        elapsed = time.perf_counter() - started
        if status == 401:
            return elapsed
        assert status == 200
        assert elapsed < limit, f"still accepted after {elapsed:.3f} s"
        time.sleep(0.01)


@pytest.fixture
def feed_resource_server(settings, site, start_resource_server):
    settings.TOKENS_REVOCATION_FEED_CREDENTIALS = [CREDENTIAL]
    return start_resource_server(
        REVOCATION_FEED_URL=f"{site}/revocations/",
        REVOCATION_FEED_CREDENTIAL=CREDENTIAL,
        REVOCATION_FEED_POLL_INTERVAL=str(POLL_INTERVAL),
    )


def test_a_force_logout_is_refused_within_the_feeds_poll_interval(
    alice,
    admin,
    site,
    feed_resource_server,
):
    token = sign_in_over_http(site)
    assert call(feed_resource_server, token)[0] == 200

    flows.force_logout([alice], actor=admin)
    delay = seconds_until_refused(feed_resource_server, token, limit=POLL_INTERVAL * 2)

    print(f"\nfeed: force logout refused after {delay * 1000:.0f} ms (poll interval {POLL_INTERVAL} s)")
    assert delay <= POLL_INTERVAL + 0.2


def test_an_ended_device_is_refused_through_the_feed_and_others_are_not(
    alice,
    site,
    feed_resource_server,
):
    ended, kept = sign_in_over_http(site), sign_in_over_http(site)
    session = LoginSession.objects.filter(user=alice).order_by("created_at").first()

    flows.revocation.revoke_session(session, reason="logout_device")
    seconds_until_refused(feed_resource_server, ended, limit=POLL_INTERVAL * 2)

    assert call(feed_resource_server, kept)[0] == 200


def test_the_resource_server_answers_503_when_the_feed_cannot_be_read(
    alice,
    site,
    start_resource_server,
):
    # The site serves no feed (no credential configured): the state is unknown.
    resource = start_resource_server(
        REVOCATION_FEED_URL=f"{site}/revocations/",
        REVOCATION_FEED_CREDENTIAL=CREDENTIAL,
        REVOCATION_FEED_POLL_INTERVAL="0.2",
    )

    status, body = call(resource, sign_in_over_http(site))

    assert status == 503
    assert body["code"] == "keys_unavailable"


@pytest.fixture
def redis_resource_server(start_resource_server) -> str:
    """The resource server reading the Redis entries this site writes."""
    return start_resource_server(
        REVOCATION_REDIS_URL=os.environ["REDIS_URL"],
        REVOCATION_REDIS_KEY_PREFIX=django_settings.CACHES["default"]["KEY_PREFIX"],
    )


@pytest.mark.server
def test_a_force_logout_is_refused_at_once_through_the_sites_redis(alice, admin, site, redis_resource_server):
    resource = redis_resource_server
    token = sign_in_over_http(site)
    for _ in range(5):  # warm: the connection to Redis is open
        assert call(resource, token)[0] == 200

    flows.force_logout([alice], actor=admin)
    returned = time.perf_counter()
    status, _ = call(resource, token)
    delay = time.perf_counter() - returned

    print(f"\nredis: first request after the force logout refused in {delay * 1000:.2f} ms")
    # The entry is written before force_logout returns: the very first request
    # is refused, so the delay is one request's round trip (1.9 ms on an idle
    # machine; printed, not asserted: a timed test on a shared CI machine
    # measures the machine). A polled mechanism could not pass this assertion.
    assert status == 401


@pytest.mark.server
def test_an_ended_device_is_refused_at_once_through_the_sites_redis(alice, site, redis_resource_server):
    resource = redis_resource_server
    ended, kept = sign_in_over_http(site), sign_in_over_http(site)
    session = LoginSession.objects.filter(user=alice).order_by("created_at").first()

    flows.revocation.revoke_session(session, reason="logout_device")

    assert call(resource, ended)[0] == 401
    assert call(resource, kept)[0] == 200


@pytest.fixture
def own_redis(tmp_path):
    with own_redis_server(tmp_path) as server:
        yield server


def test_the_resource_server_sends_no_redis_command_at_steady_state_and_refuses_a_force_logout(
    alice, admin, site, start_resource_server, own_redis
):
    # The site's cache on a Redis of the test's own, whose commands are counted.
    with cache_on(own_redis):
        resource = start_resource_server(
            REVOCATION_REDIS_URL=own_redis.url, REVOCATION_REDIS_KEY_PREFIX="tracking-test"
        )
        token = sign_in_over_http(site)

        def answered_from_memory() -> bool:
            before = own_redis.commands()
            return call(resource, token)[0] == 200 and own_redis.commands() == before

        assert wait_until(answered_from_memory), "tracking never answered"
        before = own_redis.commands()
        for _ in range(10):
            assert call(resource, token)[0] == 200
        assert own_redis.commands() == before

        flows.force_logout([alice], actor=admin)

        assert call(resource, token)[0] == 401


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_feed_reader_cut_off_for_three_intervals_stops_honouring_tokens(alice, settings, site):
    from tokens_app.verifier import AccessVerifier, FeedRevocations, Unavailable

    settings.TOKENS_REVOCATION_FEED_CREDENTIALS = [CREDENTIAL]
    clock = Clock()
    feed = FeedRevocations(f"{site}/revocations/", credential=CREDENTIAL, poll_interval=5, clock=clock)
    verifier = AccessVerifier(
        issuer=settings.TOKENS_ISSUER, jwks_url=f"{site}/.well-known/jwks.json", revocations=feed
    )
    token = sign_in_over_http(site)
    assert verifier.verify(token)["name"] == "alice"  # the first request polls inline

    settings.TOKENS_REVOCATION_FEED_CREDENTIALS = []  # the feed now refuses us
    clock.now += 10
    assert verifier.verify(token)["name"] == "alice"  # two intervals: still trusted
    clock.now += 6
    with pytest.raises(Unavailable):
        verifier.verify(token)

    settings.TOKENS_REVOCATION_FEED_CREDENTIALS = [CREDENTIAL]  # back: the next poll heals it
    assert verifier.verify(token)["name"] == "alice"
