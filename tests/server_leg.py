"""The ``server`` marker: tests that need PostgreSQL and Redis.

Loaded with ``-p tests.server_leg`` (pyproject.toml). The suite runs twice in
CI: on the embedded default (SQLite, local-memory cache) and on PostgreSQL +
Redis. Tests marked ``server`` (row locks, several processes) only mean
something on the second leg, so:

- without the services they are SKIPPED, with a reason ``-ra`` prints, never
  silently;
- with ``TOKENS_REQUIRE_SERVER_TESTS=1`` (CI's second leg) a missing service
  is an ERROR instead, and so is a run in which no server test ran at all: CI
  cannot go green without the leg that proves the production mode.
"""

from __future__ import annotations

import os

import pytest

REQUIRE_ENV = "TOKENS_REQUIRE_SERVER_TESTS"


def missing_services() -> list[str]:
    """What the environment lacks for the server leg, in words for the report."""
    missing = []
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://", "pgsql://")):
        missing.append("DATABASE_URL is not a postgres:// URL")
    if not os.environ.get("REDIS_URL"):
        missing.append("REDIS_URL is unset")
    return missing


def server_leg_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") == "1"


def _reason(missing: list[str]) -> str:
    return "server leg: {} (needs PostgreSQL + Redis; see docs/production.md)".format("; ".join(missing))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = missing_services()
    if missing and not server_leg_required():
        skip = pytest.mark.skip(reason=_reason(missing))
        for item in items:
            if item.get_closest_marker("server"):
                item.add_marker(skip)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture: a missing service must not surface as a connection error.
    missing = missing_services()
    if missing and server_leg_required() and item.get_closest_marker("server"):
        pytest.fail(f"{REQUIRE_ENV}=1 but {_reason(missing)}", pytrace=False)


_ran_key = pytest.StashKey[int]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call" and report.passed and item.get_closest_marker("server"):
        item.config.stash[_ran_key] = item.config.stash.get(_ran_key, 0) + 1
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not server_leg_required() or session.config.option.collectonly:
        return
    if session.config.stash.get(_ran_key, 0) == 0:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"ERROR: {REQUIRE_ENV}=1 but no test marked 'server' passed: the PostgreSQL + Redis "
                "leg did not run.",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
