"""The benchmark reads wrk's report; a misread would publish wrong figures."""

from __future__ import annotations

import pytest

from bench.run import parse_wrk

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
