"""How fast a revocation reaches the other servers, with revocation tracking on.

Two gunicorn servers (two sync workers each) answer revocation checks from
their workers' memory (tokens_app/tracking.py). A writer process commits
bumps and device ends the way an app server does (revocation.py, with the
write-through on commit), and after each commit asks the servers, with an
access token they have just honoured, whether it is still good. It measures
from the commit to the refusal; no request sent after the commit may be
honoured, also when the servers' tracking connections were just killed.
"""

from __future__ import annotations

import json
import statistics

import pytest

from tests.live_servers import Browser
from tests.server.conftest import PASSWORD

pytestmark = pytest.mark.server

ROUNDS = 200

PROBE = """
import http.client, json, os, time
import redis
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from tokens_app import flows, revocation, tracking
from tokens_app.conf import app_settings
from tokens_app.models import LoginSession

ports, rounds = {ports!r}, {rounds!r}
user, _ = get_user_model().objects.get_or_create(username="propagation")

def status(port, token):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    cookie = app_settings.ACCESS_COOKIE + "=" + token
    connection.request("GET", "/api/auth/me/", headers={{"Cookie": cookie, "X-Forwarded-Proto": "https"}})
    code = connection.getresponse().status
    connection.close()
    return code

def committed(end):
    # The first on-commit hook registered runs first: the commit's own moment.
    stamp = []
    with transaction.atomic():
        transaction.on_commit(lambda: stamp.append(time.perf_counter()))
        end()
    return stamp[0]

shared = redis.Redis.from_url(os.environ["REDIS_URL"])
ours = "tokens-tracking:" + "".join(c for c in cache.make_key("") if c.isalnum() or c in ":-_")

def kill_tracking():
    # This deployment's tracking connections only: the Redis is shared.
    killed = [c["id"] for c in shared.client_list() if c["name"] == ours]
    for client_id in killed:
        shared.client_kill_filter(_id=client_id)
    return len(killed)

results = {{"latency": [], "honoured_after_commit": 0, "warm": [], "killed": 0}}
for number in range(rounds):
    port = ports[number % len(ports)]
    user.refresh_from_db()
    pair = flows.log_in(None, user)
    token = pair.access.token
    # Every worker of every server honours it, from its memory after the
    # second look (the first fills Redis, whose report drops that fill).
    for _ in range(8):
        started = time.perf_counter()
        assert status(ports[_ % len(ports)], token) == 200
        results["warm"].append(time.perf_counter() - started)
    if number % 20 == 19:
        # A fault on the way: the servers' reports stop until they reconnect.
        results["killed"] += kill_tracking()
    if number % 4 == 3:
        session = LoginSession.objects.get(pk=pair.access.claims.sid)
        at = committed(lambda: revocation.revoke_session(session, reason="propagation"))
    else:
        at = committed(lambda: revocation.bump_token_version(user, reason="propagation"))
    while status(port, token) == 200:
        results["honoured_after_commit"] += 1
    results["latency"].append(time.perf_counter() - at)
print("RESULTS" + json.dumps(results))
"""


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def test_revocations_reach_every_server_by_the_first_request_after_the_commit(app_servers, capsys):
    ports = [server.port for server in app_servers.started]
    # The servers are warm and serving (a sign-in on each).
    for server in app_servers.started:
        assert Browser(server).log_in("alice", PASSWORD).status == 302

    output = app_servers.manage("shell", "-c", PROBE.format(ports=ports, rounds=ROUNDS))
    results = json.loads(output.split("RESULTS", 1)[1])

    latency = [seconds * 1000 for seconds in results["latency"]]
    warm = [seconds * 1000 for seconds in results["warm"]]
    p50, p99 = statistics.median(latency), _percentile(latency, 0.99)
    figures = (
        f"commit to refusal on another server: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
        f"max {max(latency):.2f} ms; an honoured request takes p50 {statistics.median(warm):.2f} ms, "
        f"p99 {_percentile(warm, 0.99):.2f} ms"
    )
    with capsys.disabled():
        print(
            f"\nrevocation propagation, {len(latency)} revocations (150 bumps, 50 ended devices): {figures}"
        )
    assert len(latency) == ROUNDS
    assert results["killed"] >= 10 * len(ports)  # ten kills, each of the workers that were connected
    # The promise: the first request after the commit is refused, everywhere.
    # How fast (the 5 ms p99 target) is the benchmark's figure (bench/README.md,
    # "Revocation propagation"), measured on a quiet machine, not a timed test's.
    assert results["honoured_after_commit"] == 0
