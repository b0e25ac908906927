"""The ``server`` marker's contract (tests/server_leg.py), checked on a tiny
suite in a subprocess: reported when the services are absent, an error when
CI's second leg asks for them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SUITE = """
import pytest

@pytest.mark.server
def test_needs_postgresql_and_redis():
    pass

def test_runs_everywhere():
    pass
"""


@pytest.fixture
def run_suite(tmp_path):
    (tmp_path / "test_sample.py").write_text(SUITE)

    def run(*args: str, **env: str) -> subprocess.CompletedProcess:
        environ = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL", "TOKENS_REQUIRE_SERVER_TESTS"}
        }
        environ.update(env, PYTHONPATH=str(ROOT), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "tests.server_leg", "-p",
             "no:cacheprovider", "-o", "markers=server", "-ra", *args, str(tmp_path)],
            cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    return run


def test_without_the_services_server_tests_are_skipped_with_the_reason_reported(run_suite):
    result = run_suite(DATABASE_URL="sqlite:///x.sqlite3")

    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
    assert (
        "SKIPPED [1] test_sample.py:4: server leg: DATABASE_URL is not a postgres:// URL; "
        "REDIS_URL is unset (needs PostgreSQL + Redis; see docs/production.md)"
    ) in result.stdout


def test_on_the_required_leg_missing_services_fail_the_run(run_suite):
    result = run_suite(DATABASE_URL="postgres://postgres@127.0.0.1/x", TOKENS_REQUIRE_SERVER_TESTS="1")

    assert result.returncode == 1
    assert "TOKENS_REQUIRE_SERVER_TESTS=1 but server leg: REDIS_URL is unset" in result.stdout


def test_on_the_required_leg_a_run_without_any_server_test_fails(run_suite):
    result = run_suite(
        "-k",
        "everywhere",
        DATABASE_URL="postgres://postgres@127.0.0.1/x",
        REDIS_URL="redis://127.0.0.1:6379/3",
        TOKENS_REQUIRE_SERVER_TESTS="1",
    )

    assert result.returncode == 1
    assert "1 passed" in result.stdout
    assert "no test marked 'server' passed" in result.stdout


def test_on_the_required_leg_with_the_services_server_tests_run(run_suite):
    result = run_suite(
        DATABASE_URL="postgres://postgres@127.0.0.1/x",
        REDIS_URL="redis://127.0.0.1:6379/3",
        TOKENS_REQUIRE_SERVER_TESTS="1",
    )

    assert result.returncode == 0, result.stdout
    assert "2 passed" in result.stdout
