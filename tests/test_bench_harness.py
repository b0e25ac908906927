"""The benchmark's harness: how it reads wrk's report and Redis's counters,
builds each arm's requests, and judges each figure against its target. A
misread would publish wrong figures. (The harness end to end, every arm on both
backends, is CI's quick bench run.)"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench.arms import ARMS, ArmResult, Driver, Sample, check_answer, parse_wrk
from bench.probes import Propagation, command_counts, per_request, percentile
from bench.report import PROPAGATION_MIN_BUMPS, TARGETS, figures, markdown
from bench.run import parse_args

WRK_REPORT = """\
Running 3s test @ http://127.0.0.1:18300/bench/floor/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.62ms    2.10ms  40.12ms   95.11%
    Req/Sec     2.71k   120.33     2.90k    70.00%
  Latency Distribution
     50%  850.00us
     75%    1.51ms
     90%    2.70ms
     99%   12.34ms
  8123 requests in 3.00s, 2.91MB read
  Socket errors: connect 0, read 8123, write 0, timeout 2
  Non-2xx or 3xx responses: 5
Requests/sec:   2707.66
Transfer/sec:    992.36KB
"""


def test_the_wrk_report_gives_rate_percentiles_and_failures():
    sample = parse_wrk(WRK_REPORT)
    assert sample.rps == pytest.approx(2707.66)
    assert sample.p50_ms == pytest.approx(0.85)
    assert sample.p99_ms == pytest.approx(12.34)
    assert sample.requests == 8123
    # Read errors are the sync workers closing each connection; timeouts and
    # non-2xx answers are failures.
    assert sample.bad == 7


def test_a_clean_report_has_no_failures():
    clean = WRK_REPORT.replace("  Socket errors: connect 0, read 8123, write 0, timeout 2\n", "").replace(
        "  Non-2xx or 3xx responses: 5\n", ""
    )
    assert parse_wrk(clean).bad == 0


def test_redis_commands_per_request_are_the_counters_moved_by_the_requests():
    before = command_counts({"cmdstat_mget": {"calls": 10, "usec": 5}, "cmdstat_info": {"calls": 3}})
    after = command_counts(
        {"cmdstat_mget": {"calls": 30, "usec": 9}, "cmdstat_set": {"calls": 2}, "cmdstat_info": {"calls": 4}}
    )
    total, by_command = per_request(before, after, requests=20)
    # The bench's own INFO calls are not the requests'.
    assert by_command == {"mget": 1.0, "set": 0.1}
    assert total == pytest.approx(1.1)


def test_commands_that_run_without_any_request_are_listed_but_not_counted():
    before = {"mget": 5, "ping": 100}
    after = {"mget": 25, "ping": 103}
    total, by_command = per_request(before, after, requests=20, background=frozenset({"ping"}))
    assert total == 1.0
    assert by_command == {"mget": 1.0, "ping": 0.15}


def test_requests_that_send_no_redis_command_count_zero():
    counts = command_counts({"cmdstat_mget": {"calls": 7}})
    assert per_request(counts, dict(counts), requests=20) == (0, {})


def test_the_propagation_percentile_is_nearest_rank_and_a_missed_bump_is_infinitely_late():
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([float(n) for n in range(1, 201)], 99) == 198.0
    found = Propagation(delays_ms=[0.4] * 199, missed=1)
    assert found.percentile(50) == 0.4
    assert math.isinf(found.percentile(100))
    assert math.isnan(percentile([], 99))


def _results(rps: dict[str, float], *, queries: float = 0, redis: float | None = 0) -> dict[str, ArmResult]:
    results = {}
    for arm in ARMS:
        result = ArmResult(arm, [Sample(rps.get(arm.key, 1000.0), 1.0, 2.0, 3000, 0, cpu_us=500)])
        result.queries, result.redis_commands = queries, redis
        results[arm.key] = result
    return results


def _judged(rows: list[tuple[str, str, bool | None]], start: str) -> bool | None:
    (ok,) = [ok for text, _, ok in rows if text.startswith(start)]
    return ok


def test_revocation_on_meets_its_figure_only_with_no_sql_and_no_redis_command_per_request():
    rps = {"ours": 960.0, "ours_norev": 1000.0}
    assert _judged(figures(_results(rps, redis=0)), "browser request, revocation on >= 0.95x") is True
    assert _judged(figures(_results(rps, redis=1)), "browser request, revocation on >= 0.95x") is False
    assert _judged(figures(_results(rps, queries=1)), "browser request, revocation on >= 0.95x") is False
    slow = {"ours": 900.0, "ours_norev": 1000.0}
    assert _judged(figures(_results(slow)), "browser request, revocation on >= 0.95x") is False


def test_the_peers_figures_are_ratios_of_requests_per_second():
    rows = figures(
        _results({"ours": 4000.0, "django": 999.0, "sjwt": 2700.0, "refresh": 600, "sjwt_refresh": 200})
    )
    assert _judged(rows, "browser request, revocation on >= 4x Django") is True
    assert _judged(rows, "browser request, revocation on >= 1.5x simplejwt") is False
    assert _judged(rows, "refresh >= 3x simplejwt") is True
    too_many_queries = figures(_results({"refresh": 600, "sjwt_refresh": 200}, queries=4))
    assert _judged(too_many_queries, "refresh >= 3x simplejwt") is False


def test_propagation_is_judged_on_its_p99_over_enough_bumps():
    fast = Propagation(delays_ms=[0.5] * PROPAGATION_MIN_BUMPS)
    slow = Propagation(delays_ms=[0.5] * 190 + [9.0] * 10)
    quick = Propagation(delays_ms=[0.5] * 20)
    assert _judged(figures(_results({}), fast), "revocation propagation") is True
    assert _judged(figures(_results({}), slow), "revocation propagation") is False
    assert _judged(figures(_results({}), quick), "revocation propagation") is None


def test_the_report_states_every_figure_against_its_target():
    info = {
        "finished": "now",
        "seconds": 1,
        "cpu": "cpu",
        "cores": 2,
        "os": "os",
        "python": "3",
        "django": "5",
        "drf": "3",
        "pyjwt": "2",
        "simplejwt": "5",
        "uvicorn": "0",
        "gunicorn": "2 sync workers",
        "wrk": "wrk",
        "load_before": 0.1,
        "hasher": "pbkdf2_sha256",
        "iterations": 1_000_000,
    }
    args = SimpleNamespace(quick=False, rounds=4, duration=3, warmup=2)
    text = markdown(
        {"postgres": _results({})},
        {"postgres": "PostgreSQL + Redis"},
        info,
        args,
        {"postgres": Propagation([0.3])},
    )
    for target in TARGETS:
        assert f"| {target.text} |" in text
    assert "| revocation propagation p99 <= 5 ms between two servers | p99 0.30 ms" in text
    for arm in ARMS:
        assert f"| {arm.label} |" in text


def test_a_quick_run_is_short_and_still_seeds_enough_refresh_tokens():
    args = parse_args(["--quick"])
    assert (args.duration, args.rounds, args.warmup, args.bumps) == (1, 1, 1, 20)
    # Every arm's runs (warm-up included) plus the checks and the counted requests.
    assert args.refresh_tokens >= 2 * 2000 + args.count_requests + 4
    assert args.sjwt_refresh_tokens >= 2 * 1000 + args.count_requests + 4
    assert parse_args(["--quick", "--arms", "ours"]).sjwt_refresh_tokens == 0


def test_an_unknown_arm_is_refused():
    with pytest.raises(SystemExit):
        parse_args(["--arms", "ours,nonsense"])


@pytest.fixture
def driver(tmp_path: Path) -> Driver:
    (tmp_path / "refresh_tokens.txt").write_text("r1\nr2\nr3\n")
    (tmp_path / "sjwt_refresh_tokens.txt").write_text("s1\ns2\ns3\n")
    seed = {
        "cookies": {"__Host-access_token": "A", "csrftoken": "C"},
        "access_cookie": "__Host-access_token",
        "access_tokens": {"eddsa": "E"},
        "sjwt_access": "S",
        "csrf": "C",
        "csrf_cookie": "csrftoken",
        "refresh_cookie": "__Host-refresh_token",
        "username": "bench",
        "password": "pw",
    }
    servers = {
        name: SimpleNamespace(port=port) for port, name in enumerate(["main", "norev", "eddsa", "asgi"], 1)
    }
    return Driver(seed, tmp_path, servers)


def _arm(key: str):
    (arm,) = [arm for arm in ARMS if arm.key == key]
    return arm


def test_every_get_arm_sends_the_browser_cookies_and_simplejwt_adds_its_bearer_header(driver: Driver):
    ours, peer = driver.get_headers(_arm("ours")), driver.get_headers(_arm("sjwt"))
    assert ours["Cookie"] == peer["Cookie"] == "__Host-access_token=A; csrftoken=C"
    assert "Authorization" not in ours
    assert peer["Authorization"] == "Bearer S"
    # The EdDSA server verifies only its own access tokens; the ASGI one is main's twin.
    assert driver.get_headers(_arm("ours_eddsa"))["Cookie"] == "__Host-access_token=E; csrftoken=C"
    assert driver.get_headers(_arm("ours_asgi"))["Cookie"] == ours["Cookie"]
    assert driver.wrk_command(_arm("ours_asgi"), 1)[-1] == "http://127.0.0.1:4/bench/ours/"


def test_each_refresh_run_gets_tokens_no_other_run_used(driver: Driver, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("bench.arms.tokens_for", lambda kind, seconds: 2)
    first = driver.wrk_command(_arm("sjwt_refresh"), 1)
    assert first[first.index("--") - 2].endswith("sjwt_refresh.lua")
    assert Path(first[first.index("--") + 1]).read_text().split() == ["s1", "s2"]
    ours = driver.wrk_command(_arm("refresh"), 1)
    assert Path(ours[ours.index("--") + 1]).read_text().split() == ["r1", "r2"]
    assert ours[ours.index("--") + 2 :] == ["C", "csrftoken", "__Host-refresh_token"]
    with pytest.raises(SystemExit, match="exhausted"):
        driver.wrk_command(_arm("sjwt_refresh"), 1)


def test_an_answer_for_another_user_or_a_redirect_fails_the_arm():
    body = json.dumps({"user": {"id": "7", "username": ""}}).encode()
    check_answer(_arm("sjwt"), 200, body, 7)  # simplejwt's TokenUser: the id claim, a string
    with pytest.raises(SystemExit, match="expected user id 8"):
        check_answer(_arm("ours"), 200, body, 8)
    with pytest.raises(SystemExit, match="HTTP 302"):
        check_answer(_arm("ours"), 302, b"", 7)


def _counted(response: Any) -> str | None:
    return response.get("X-Bench-Queries")


@pytest.mark.django_db
def test_the_query_counter_counts_every_statement_of_a_request_sync_and_async(django_user_model):
    from asgiref.sync import async_to_sync, sync_to_async
    from django.http import HttpResponse
    from django.test import RequestFactory

    from bench.middleware import QueryCountMiddleware

    def view(request):
        django_user_model.objects.count()
        django_user_model.objects.exists()
        return HttpResponse()

    async def async_view(request):
        await sync_to_async(django_user_model.objects.count)()
        return HttpResponse()

    asked = RequestFactory().get("/", HTTP_X_BENCH_COUNT_QUERIES="1")
    assert _counted(QueryCountMiddleware(view)(asked)) == "2"
    # Under ASGI the stack is async; the queries run in sync_to_async's thread.
    assert _counted(async_to_sync(QueryCountMiddleware(async_view))(asked)) == "1"
    # The timed runs never ask: nothing is counted or answered.
    assert _counted(QueryCountMiddleware(view)(RequestFactory().get("/"))) is None
