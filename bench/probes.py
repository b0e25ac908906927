"""What a run measures besides wrk's rates: SQL and Redis commands per request,
and how fast a revocation reaches another server.

SQL is counted by the servers themselves (``bench.middleware.QueryCountMiddleware``,
asked with a request header); Redis commands from ``INFO commandstats`` before
and after the same requests, on a Redis only this run talks to.
"""

from __future__ import annotations

import json
import math
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.arms import Arm, ArmResult, CpuMeter, Driver, request

# Commands the bench itself sends to read the counters: never the request's.
_OWN_COMMANDS = frozenset({"info"})


def command_counts(commandstats: dict[str, Any]) -> dict[str, int]:
    """``{"get": 12, ...}`` from redis-py's parsed ``INFO commandstats``."""
    counts = {}
    for name, stats in commandstats.items():
        command = name.removeprefix("cmdstat_")
        if command not in _OWN_COMMANDS:
            counts[command] = int(stats["calls"])
    return counts


def per_request(
    before: dict[str, int], after: dict[str, int], requests: int, *, background: frozenset[str] = frozenset()
) -> tuple[float, dict[str, float]]:
    """The mean number of Redis commands per request between two counts, and
    by command (only those that moved). Commands in ``background`` run with no
    request at all (the revocation listeners' heartbeat PINGs): they are listed
    but not counted as the requests'."""
    moved = {
        command: (calls - before.get(command, 0)) / requests
        for command, calls in after.items()
        if calls != before.get(command, 0)
    }
    total = sum(count for command, count in moved.items() if command not in background)
    return total, dict(sorted(moved.items()))


class RedisCounter:
    """INFO commandstats of the run's own Redis, and its background rate."""

    def __init__(self, redis_url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(redis_url)
        self.background: frozenset[str] = frozenset()
        self.background_rate: dict[str, float] = {}  # per second, for the raw results

    def counts(self) -> dict[str, int]:
        return command_counts(self.client.info("commandstats"))

    def measure_background(self, seconds: float) -> None:
        before = self.counts()
        time.sleep(seconds)
        after = self.counts()
        self.background = {
            c: (n - before.get(c, 0)) / seconds for c, n in after.items() if n != before.get(c, 0)
        }


def wait_idle(servers: list[CpuMeter], *, timeout: float = 15.0) -> None:
    """Until the servers spend no CPU for 0.5 s: wrk stops with requests in
    flight (a login takes a second on a busy machine), which they still finish."""
    deadline = time.monotonic() + timeout
    last = sum(server.cpu_seconds() for server in servers)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(server.cpu_seconds() for server in servers)
        if now - last < 0.02:  # a tick or two: timers, heartbeats
            return
        last = now


def count_per_request(
    driver: Driver, arms: list[Arm], results: dict[str, ArmResult], *, requests: int, redis_url: str | None
) -> None:
    """SQL statements (and Redis commands, with a Redis) per request for each
    arm, at steady state, on the running servers."""
    wait_idle(list(driver.servers.values()))
    counter = RedisCounter(redis_url) if redis_url else None
    if counter:
        counter.measure_background(2.0)
    for arm in arms:
        sent = 3 if arm.kind == "login" else requests
        before = counter.counts() if counter else {}
        counted = []
        for _ in range(sent):
            status, headers, body = driver.one(arm, count=True)
            if status != 200:
                raise SystemExit(f"arm {arm.key}: HTTP {status} while counting queries: {body[:200]!r}")
            counted.append(int(headers["X-Bench-Queries"]))
        results[arm.key].queries = statistics.fmean(counted)
        if counter:
            total, by_command = per_request(before, counter.counts(), sent, background=counter.background)
            results[arm.key].redis_commands, results[arm.key].redis_breakdown = total, by_command
            results[arm.key].redis_background = counter.background_rate


# ---------------------------------------------------------------- revocation propagation


@dataclass
class Propagation:
    """Milliseconds from a bump's commit on one server to the first refusal of
    the old token on another; ``missed``: bumps not refused within the timeout."""

    delays_ms: list[float] = field(default_factory=list)
    missed: int = 0

    def percentile(self, q: float) -> float:
        return percentile(self.delays_ms + [math.inf] * self.missed, q)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least q% of the values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _poll(until: Callable[[int], bool], port: int, headers: dict[str, str], timeout: float) -> float | None:
    """Request the DRF arm on ``port`` until ``until(status)``; the wall time then, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = request(port, "GET", "/bench/api/", headers)[0]
        if until(status):
            return time.time()
    return None


class _Poller(threading.Thread):
    """Requests the DRF arm with one token, back to back, noting when each
    request was sent and what it got, until stopped."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.port, self.headers = port, headers
        self.sent: list[tuple[float, int]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            sent_at = time.time()
            self.sent.append((sent_at, request(self.port, "GET", "/bench/api/", self.headers)[0]))

    def first_refused_after(self, moment: float) -> float | None:
        return next((at for at, status in list(self.sent) if at >= moment and status != 200), None)


def measure_propagation(seed: dict[str, Any], bump_port: int, poll_port: int, *, bumps: int) -> Propagation:
    """Bump the bench user's token_version on one server (``POST /bench/bump/``,
    which answers the commit's wall time and a fresh access token) while
    another server is asked, back to back, with the old token. The delay of a
    bump is from its commit to the sending of the first request the other
    server refuses: a request sent that long after the commit is refused
    (one request's time is the resolution). The other server has just
    accepted the old token, so its cached state is warm: this measures the
    invalidation, not a cold read. Both servers run on this machine, one clock."""
    found = Propagation()
    access, csrf = seed["cookies"][seed["access_cookie"]], seed["csrf"]
    for _ in range(bumps):
        old = {"Cookie": f"{seed['access_cookie']}={access}", "Accept": "application/json"}
        if _poll(lambda status: status == 200, poll_port, old, timeout=5) is None:
            raise SystemExit("propagation: the polled server refuses a fresh access token")
        for _ in range(3):  # warm the other worker too
            request(poll_port, "GET", "/bench/api/", old)
        poller = _Poller(poll_port, old)
        poller.start()
        try:
            cookie = f"{old['Cookie']}; {seed['csrf_cookie']}={csrf}"
            status, _, body = request(
                bump_port, "POST", "/bench/bump/", {"Cookie": cookie, "X-CSRFToken": csrf}
            )
            if status != 200:
                raise SystemExit(f"propagation: POST /bench/bump/ answered {status} {body[:200]!r}")
            answer = json.loads(body)
            deadline = time.monotonic() + 2
            while (refused := poller.first_refused_after(answer["committed_at"])) is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.0005)
        finally:
            poller.halt.set()
            poller.join()
        if refused is None:
            found.missed += 1
        else:
            found.delays_ms.append(max(0.0, (refused - answer["committed_at"]) * 1000))
        access = answer["access"]
    return found
