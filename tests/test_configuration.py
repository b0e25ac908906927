"""Configuration from the environment, start-up rules, generate_secrets, the
system checks and the development-only demo account."""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.test import Client

from authproject.environment import (
    SECRET_NAMES,
    database_from_url,
    env_duration,
    load_secrets,
    parse_duration,
)
from tokens_app.checks import MESSAGES

ROOT = Path(__file__).resolve().parent.parent
SECRET_LINE = re.compile(
    r"^(DJANGO_SECRET_KEY|ACCESS_TOKEN_SECRET|REFRESH_TOKEN_SECRET)=([A-Za-z0-9_-]{43,})$"
)


# Durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("900", 900),
        ("1", 1),
        ("90s", 90),
        ("15m", 900),
        ("15M", 900),
        (" 15m ", 900),
        ("12h", 12 * 3600),
        ("7d", 7 * 86400),
        ("14d", 14 * 86400),
        ("2w", 14 * 86400),
    ],
)
def test_parse_duration_accepts_seconds_or_a_number_with_a_unit(raw, seconds):
    assert parse_duration(raw) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        "0",
        "0m",
        "-5",
        "+5",
        "15x",
        "1.5h",
        "1e3",
        "0x10",
        "abc",
        "15 minutes",
        "m",
        "15mm",
        "7d2h",
        "١٥m",
    ],
)
def test_parse_duration_rejects_junk(raw):
    with pytest.raises(ValueError, match=f"^{re.escape(raw)}$"):
        parse_duration(raw)


def test_a_junk_duration_in_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("ACCESS_TOKEN_EXPIRY", "soon")
    with pytest.raises(ImproperlyConfigured, match="ACCESS_TOKEN_EXPIRY='soon'"):
        env_duration("ACCESS_TOKEN_EXPIRY", "5m")


def test_a_missing_duration_takes_the_default(monkeypatch):
    monkeypatch.delenv("REFRESH_TOKEN_EXPIRY", raising=False)
    assert env_duration("REFRESH_TOKEN_EXPIRY", "14d") == timedelta(days=14)


# DATABASE_URL ---------------------------------------------------------------------------------------------


def test_database_url_sqlite_relative_and_absolute(tmp_path):
    relative = database_from_url("sqlite:///db.sqlite3", base_dir=tmp_path)
    assert relative["ENGINE"] == "django.db.backends.sqlite3"
    assert relative["NAME"] == tmp_path / "db.sqlite3"
    absolute = database_from_url("sqlite:////var/lib/app/db.sqlite3", base_dir=tmp_path)
    assert absolute["NAME"] == Path("/var/lib/app/db.sqlite3")


def test_database_url_postgres_with_credentials_and_options(tmp_path):
    db = database_from_url("postgres://us%40r:p%3Ass@db.example:5433/app?sslmode=require", base_dir=tmp_path)
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"]) == ("app", "us@r", "p:ss")
    assert (db["HOST"], db["PORT"]) == ("db.example", "5433")
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_database_url_with_an_unknown_scheme_says_what_is_supported(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL scheme 'mysql'"):
        database_from_url("mysql://localhost/app", base_dir=tmp_path)


# Secrets in development: generated once, kept, reused ------------------------------------------------


@pytest.fixture
def no_secrets(monkeypatch):
    for name in (*SECRET_NAMES, "AUTHPROJECT_THROWAWAY_SECRETS"):
        monkeypatch.delenv(name, raising=False)


def test_development_generates_missing_secrets_once_into_the_local_file(no_secrets, tmp_path):
    local = tmp_path / ".local" / "secrets.env"

    first = load_secrets(debug=True, local_file=local)

    assert set(first) == set(SECRET_NAMES)
    assert len(set(first.values())) == 3
    assert all(len(value) >= 43 for value in first.values())
    assert stat.S_IMODE(local.stat().st_mode) == 0o600
    text = local.read_text()
    for name, value in first.items():
        assert f"{name}={value}\n" in text

    second = load_secrets(debug=True, local_file=local)

    assert second == first
    assert local.read_text() == text


def test_development_prefers_the_environment_and_completes_a_partial_file(no_secrets, tmp_path, monkeypatch):
    local = tmp_path / "secrets.env"
    local.write_text("# kept\nDJANGO_SECRET_KEY=from-the-file\n")
    monkeypatch.setenv("ACCESS_TOKEN_SECRET", "from-the-environment")

    found = load_secrets(debug=True, local_file=local)

    assert found["DJANGO_SECRET_KEY"] == "from-the-file"
    assert found["ACCESS_TOKEN_SECRET"] == "from-the-environment"
    assert found["REFRESH_TOKEN_SECRET"]
    text = local.read_text()
    assert "ACCESS_TOKEN_SECRET" not in text  # the environment's value is never copied to disk
    assert f"REFRESH_TOKEN_SECRET={found['REFRESH_TOKEN_SECRET']}\n" in text
    assert load_secrets(debug=True, local_file=local) == found


def test_production_refuses_to_start_without_secrets_and_writes_nothing(no_secrets, tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "present")
    local = tmp_path / "secrets.env"
    with pytest.raises(ImproperlyConfigured) as info:
        load_secrets(debug=False, local_file=local)
    message = str(info.value)
    assert "ACCESS_TOKEN_SECRET" in message
    assert "REFRESH_TOKEN_SECRET" in message
    assert "DJANGO_SECRET_KEY" not in message
    assert "generate_secrets" in message
    assert not local.exists()


def test_an_empty_secret_counts_as_missing(no_secrets, tmp_path, monkeypatch):
    for name in SECRET_NAMES:
        monkeypatch.setenv(name, "present")
    monkeypatch.setenv("REFRESH_TOKEN_SECRET", "")
    with pytest.raises(ImproperlyConfigured, match="REFRESH_TOKEN_SECRET"):
        load_secrets(debug=False, local_file=tmp_path / "secrets.env")


def test_production_ignores_a_leftover_development_file(no_secrets, tmp_path):
    local = tmp_path / "secrets.env"
    local.write_text("".join(f"{name}=dev-value-{name}\n" for name in SECRET_NAMES))
    with pytest.raises(ImproperlyConfigured):
        load_secrets(debug=False, local_file=local)


# Start-up, in a real process with a controlled environment ----------------------------------------


def _run(args: list[str], **overrides: str | None) -> subprocess.CompletedProcess:
    """Run Python in the project root with only the environment given (None unsets)."""
    ours = {*SECRET_NAMES, "AUTHPROJECT_THROWAWAY_SECRETS", "ACCESS_TOKEN_EXPIRY", "REFRESH_TOKEN_EXPIRY"}
    env = {k: v for k, v in os.environ.items() if k not in ours and not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="authproject.settings", DJANGO_DEBUG="0", DJANGO_ALLOWED_HOSTS="testserver"
    )
    env.update(overrides)
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


SETUP = ["-c", "import django; django.setup(); print('started')"]
TEST_SECRETS = {name: os.environ[name] for name in SECRET_NAMES}


@pytest.mark.parametrize("missing", SECRET_NAMES)
def test_production_without_a_secret_stops_and_names_it(missing):
    env = {name: value for name, value in TEST_SECRETS.items() if name != missing}
    result = _run(SETUP, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr.splitlines()[-1]
    assert "started" not in result.stdout


def test_manage_py_check_in_production_without_secrets_says_what_to_set():
    result = _run(["manage.py", "check"])
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last
    for name in SECRET_NAMES:
        assert name in last


@pytest.mark.parametrize("variable", ["REFRESH_TOKEN_EXPIRY", "DJANGO_DEBUG", "TOKENS_TRUSTED_PROXY_COUNT"])
def test_junk_in_a_setting_stops_start_up_naming_the_variable(variable):
    result = _run(SETUP, **TEST_SECRETS, **{variable: "soonish"})
    assert result.returncode != 0
    assert f"{variable}='soonish'" in result.stderr


SHOW_SETTINGS = [
    "-c",
    "import django; django.setup(); from django.conf import settings as s; "
    "print(int(s.TOKENS_ACCESS_LIFETIME.total_seconds()), int(s.TOKENS_REFRESH_LIFETIME.total_seconds()), "
    "s.DEBUG, s.ALLOWED_HOSTS, s.DATABASES['default']['ENGINE'])",
]


def test_production_starts_with_every_secret_set_and_defaults_to_5m_14d_on_sqlite():
    result = _run(SHOW_SETTINGS, **TEST_SECRETS, DATABASE_URL=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 3)[:3] == ["300", str(14 * 86400), "False"]
    assert result.stdout.rstrip().endswith("django.db.backends.sqlite3")


def test_lifetimes_and_hosts_come_from_the_environment():
    result = _run(
        SHOW_SETTINGS,
        **TEST_SECRETS,
        ACCESS_TOKEN_EXPIRY="15m",
        REFRESH_TOKEN_EXPIRY="7d",
        DJANGO_ALLOWED_HOSTS="a.example, b.example",
        DATABASE_URL="postgres://u:p@db.example:5433/name",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"900 {7 * 86400} False ['a.example', 'b.example'] django.db.backends.postgresql"
    )


def test_the_client_ip_source_behind_the_proxy_comes_from_the_environment():
    show = [
        "-c",
        "import django; django.setup(); from tokens_app.conf import app_settings as a; "
        "print(a.CLIENT_IP_HEADER, a.TRUSTED_PROXY_COUNT)",
    ]
    configured = _run(
        show, **TEST_SECRETS, TOKENS_CLIENT_IP_HEADER="X-Forwarded-For", TOKENS_TRUSTED_PROXY_COUNT="2"
    )
    unset = _run(show, **TEST_SECRETS)

    assert configured.returncode == 0, configured.stderr
    assert configured.stdout.strip() == "HTTP_X_FORWARDED_FOR 2"
    assert unset.stdout.strip() == "None 1"


# generate_secrets ---------------------------------------------------------------------------------


def _secret_lines(output: str) -> dict[str, str]:
    lines = output.strip().splitlines()
    assert len(lines) == 3, output
    found = {}
    for line in lines:
        match = SECRET_LINE.match(line)
        assert match, line
        found[match.group(1)] = match.group(2)
    return found


def test_generate_secrets_prints_three_fresh_env_lines():
    out = io.StringIO()
    call_command("generate_secrets", stdout=out)
    first = _secret_lines(out.getvalue())
    assert list(first) == list(SECRET_NAMES)
    assert len(set(first.values())) == 3

    again = io.StringIO()
    call_command("generate_secrets", stdout=again)
    assert set(_secret_lines(again.getvalue()).values()).isdisjoint(first.values())


@pytest.mark.parametrize("debug", ["0", "1"])
def test_generate_secrets_works_with_no_secrets_in_the_environment(debug):
    local = ROOT / ".local" / "secrets.env"
    existed = local.exists()
    result = _run(["manage.py", "generate_secrets"], DJANGO_DEBUG=debug)
    assert result.returncode == 0, result.stderr
    assert set(_secret_lines(result.stdout)) == set(SECRET_NAMES)
    # Printing secrets must not leave development secrets behind.
    assert local.exists() == existed


# System checks ----------------------------------------------------------------------------------------


def _ids(**kwargs) -> set[str]:
    return {
        message.id for message in run_checks(**kwargs) if message.id and message.id.startswith("tokens_app.")
    }


def test_the_test_settings_pass_every_token_check():
    assert _ids() == set()


def test_same_key_for_access_and_refresh_is_an_error(settings):
    settings.TOKENS_REFRESH_SECRET = settings.TOKENS_ACCESS_SECRET
    messages = [m for m in run_checks() if m.id == "tokens_app.E004"]
    assert len(messages) == 1
    assert messages[0].msg == MESSAGES["E004"][0].format(names="access = refresh")
    assert "ACCESS_TOKEN_SECRET" in messages[0].hint
    with pytest.raises(SystemCheckError, match="tokens_app.E004"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


def test_a_short_key_is_a_warning(settings):
    settings.TOKENS_ACCESS_SECRET = "too-short"
    assert "tokens_app.W001" in _ids()
    call_command("check", stdout=io.StringIO(), stderr=io.StringIO())  # a warning does not stop start-up


def test_cookies_without_secure_while_not_debugging_is_a_warning(settings):
    settings.TOKENS_COOKIE_SECURE = False
    assert "tokens_app.W002" in _ids()
    settings.DEBUG = True
    assert "tokens_app.W002" not in _ids()


@pytest.mark.parametrize(
    ("access", "refresh"),
    [(timedelta(days=14), timedelta(days=14)), (timedelta(days=1), timedelta(hours=1))],
)
def test_access_lifetime_not_below_refresh_lifetime_is_an_error(settings, access, refresh):
    settings.TOKENS_ACCESS_LIFETIME = access
    settings.TOKENS_REFRESH_LIFETIME = refresh
    assert "tokens_app.E005" in _ids()


def test_samesite_none_is_a_warning(settings):
    settings.TOKENS_COOKIE_SAMESITE = "None"
    assert "tokens_app.W003" in _ids()


def test_long_access_tokens_without_immediate_revocation_is_a_warning(settings):
    settings.TOKENS_ACCESS_LIFETIME = timedelta(hours=1)
    settings.TOKENS_IMMEDIATE_REVOCATION = False
    assert "tokens_app.W004" in _ids()
    settings.TOKENS_IMMEDIATE_REVOCATION = True
    assert "tokens_app.W004" not in _ids()


def test_immediate_revocation_with_a_per_process_cache_is_a_warning(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.TOKENS_IMMEDIATE_REVOCATION = True
    assert "tokens_app.W005" in _ids()
    settings.TOKENS_IMMEDIATE_REVOCATION = False
    assert "tokens_app.W005" not in _ids()


def test_missing_token_middleware_is_an_error(settings):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "tokens_app.middleware.TokenAuthenticationMiddleware"
    ]
    assert "tokens_app.E001" in _ids()


def test_django_authentication_middleware_beside_ours_is_an_error(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.contrib.auth.middleware.AuthenticationMiddleware"]
    assert "tokens_app.E002" in _ids()


# The README's run command: a demo account, development only -------------------------------------------


def test_demo_user_refuses_to_run_without_debug(db):
    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        call_command("demo_user", stdout=io.StringIO())
    assert not get_user_model().objects.filter(username="demo").exists()


def test_demo_user_prints_a_password_that_signs_in(db, settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("demo_user", stdout=out)
    password = re.search(r"password '([^']+)'", out.getvalue()).group(1)

    response = Client().post(
        "/accounts/login/", {"username": "demo", "password": password, "next": "/admin/"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_demo_user_run_again_gets_a_new_password(db, settings):
    settings.DEBUG = True
    first, second = io.StringIO(), io.StringIO()
    call_command("demo_user", stdout=first)
    call_command("demo_user", stdout=second)
    assert first.getvalue() != second.getvalue()
    assert get_user_model().objects.filter(username="demo").count() == 1


# The user model ---------------------------------------------------------------------------------------------


def test_migrations_match_the_models(db):
    out = io.StringIO()
    call_command(
        "makemigrations", "--check", "--dry-run", stdout=out
    )  # exits non-zero on a missing migration
    assert "No changes detected" in out.getvalue()


def test_the_first_migration_creates_the_user_model_with_token_version():
    from django.db.migrations.loader import MigrationLoader

    first = MigrationLoader(None, ignore_no_migrations=True).get_migration("tokens_app", "0001_initial")
    created = {op.name: dict(op.fields) for op in first.operations if op.__class__.__name__ == "CreateModel"}
    field = created["User"]["token_version"]
    assert field.__class__.__name__ == "PositiveIntegerField"
    assert field.default == 0
    assert get_user_model()._meta.label == "tokens_app.User"


def test_a_new_user_starts_at_token_version_zero(make_user):
    assert make_user("carol").token_version == 0
