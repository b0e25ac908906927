"""The chaos deployment, played once per test run; its counts are printed
as a table at the end of the run (pytest's terminal summary)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.chaos import runner
from tests.live_servers import deployment

_outcomes: list[tuple[runner.Outcome, float]] = []


@pytest.fixture(scope="session")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[runner.Outcome]:
    """Two gunicorn servers (two workers of four threads each) on one
    PostgreSQL and one Redis, behind a pretend proxy, and every scenario
    played against them by many browsers at once."""
    jobs = runner.plan()
    with deployment(
        tmp_path_factory.mktemp("chaos"),
        "chaos",
        users=runner.users(jobs),
        servers=2,
        DJANGO_SETTINGS_MODULE="tests.chaos.server_settings",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="4",
        # The proxy's header carries each simulated browser's own address.
        TOKENS_CLIENT_IP_HEADER="HTTP_X_FORWARDED_FOR",
        GUNICORN_ACCESS_LOG="/dev/null",
    ) as servers:
        started = time.monotonic()
        outcome = runner.play(servers, jobs)
        _outcomes.append((outcome, time.monotonic() - started))
        yield outcome


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for outcome, seconds in _outcomes:
        terminalreporter.section("chaos suite")
        terminalreporter.write_line(outcome.tally.table())
        terminalreporter.write_line(
            f"played in {seconds:.0f} s; legitimate sessions ended on the server: "
            f"{len(outcome.legit_sessions_ended)}; reuse audit rows of legitimate users: "
            f"{outcome.legit_reuse_rows}; grace answers (audit rows): {outcome.grace_rows}"
        )
        for failure in outcome.tally.failures:
            terminalreporter.write_line(f"  {failure}")
