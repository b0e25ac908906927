"""Any user model: tokens_app.User, a project's own model built on the mixin,
and Django's default auth.User (the version in tokens_app.user_version).

AUTH_USER_MODEL is fixed for the life of a process, so each case runs in
processes of its own: ``manage.py migrate`` and ``check`` on a fresh
database, and the stories of tests/user_models/case_suite.py in a pytest of
its own. On the PostgreSQL leg each child gets a database of its own (this
run's name plus the case), and cache keys under a prefix of its own.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent

# label -> (settings module, the tables the app's migrations must create, and must not)
CASES = {
    "tokens_app.User": (
        "tests.user_models.settings_tokens_user",
        {"tokens_app_user", "tokens_app_loginsession", "tokens_app_auditevent"},
        {"tokens_app_usertokenversion", "auth_user"},
    ),
    "accounts.User": (
        "tests.user_models.settings_custom_user",
        {"accounts_user", "tokens_app_loginsession", "tokens_app_auditevent"},
        {"tokens_app_user", "tokens_app_usertokenversion", "auth_user"},
    ),
    "auth.User": (
        "tests.user_models.settings_auth_user",
        {"auth_user", "tokens_app_usertokenversion", "tokens_app_loginsession", "tokens_app_auditevent"},
        {"tokens_app_user"},
    ),
}


def _child_environment(case: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "TOKENS_CASE_USER_MODEL": case, **extra}
    # The child runs one file: the parent's leg requirements are the parent's.
    for name in ("DJANGO_SETTINGS_MODULE", "TOKENS_REQUIRE_SERVER_TESTS", "TOKENS_REQUIRE_BROWSER_TESTS"):
        env.pop(name, None)
    suffix = case.replace(".", "_").lower()
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")) and "DATABASE_URL" not in extra:
        # Never the parent's database: pytest-django would create (and drop)
        # the same test database the parent run is using.
        parts = urlsplit(url)
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"{parts.path}_{suffix}"))
    env["CACHE_KEY_PREFIX"] = f"{os.environ.get('CACHE_KEY_PREFIX', 'authproject-test')}-{suffix}"
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("case", CASES)
def test_every_story_holds_with_the_user_model(case):
    module = CASES[case][0]
    result = _run(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--ds", module, "tests/user_models/case_suite.py"],
        _child_environment(case),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
    assert "skipped" not in result.stdout
    assert "failed" not in result.stdout


@pytest.mark.parametrize("case", CASES)
def test_migrate_on_a_fresh_database_creates_no_dead_table_and_check_passes(case, tmp_path):
    module, wanted, unwanted = CASES[case]
    database = tmp_path / "fresh.sqlite3"
    env = _child_environment(case, DATABASE_URL=f"sqlite:///{database}")

    def tables() -> set[str]:
        with sqlite3.connect(database) as db:
            return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    # The app alone first: its migrations pull in the user model's.
    result = _run(["manage.py", "migrate", "tokens_app", "--noinput", "--settings", module], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {"tokens_app_loginsession", "tokens_app_auditevent"} <= tables()
    for command in (["migrate", "--noinput"], ["check"]):
        result = _run(["manage.py", *command, "--settings", module], env)
        assert result.returncode == 0, result.stdout + result.stderr
    assert wanted <= tables()
    assert not (unwanted & tables())


@pytest.mark.parametrize(
    ("module", "check_id", "hint"),
    [
        ("tests.user_models.settings_auth_user_missing_app", "tokens_app.E003", "tokens_app.user_version"),
        ("tests.user_models.settings_auth_user_missing_app", "tokens_app.E003", "TokenVersionMixin"),
        ("tests.user_models.settings_unguarded_user", "tokens_app.E010", "TokenVersionMixin"),
    ],
)
def test_check_says_what_to_add_to_a_user_model_without_the_mixin(module, check_id, hint, tmp_path):
    env = _child_environment("none", DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}")
    result = _run(["manage.py", "check", "--settings", module], env)
    assert result.returncode != 0
    assert check_id in result.stderr
    assert hint in result.stderr
