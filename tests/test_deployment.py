"""The production configuration as an operator starts it: check --deploy and
the gunicorn config file, in subprocesses with a production environment."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # The test run's relaxations and services are not this deployment's.
        if key
        not in {
            "DJANGO_SECURE_SSL_REDIRECT",
            "DJANGO_DEBUG",
            "AUTHPROJECT_THROWAWAY_SECRETS",
            "DATABASE_URL",
            "REDIS_URL",
        }
    }
    env.update(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        ACCESS_TOKEN_SECRET=secrets.token_urlsafe(48),
        REFRESH_TOKEN_SECRET=secrets.token_urlsafe(48),
        DJANGO_ALLOWED_HOSTS="auth.example.com",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://auth.example.com",
        # The documented proxy writes the client's address here (docs/production.md).
        TOKENS_CLIENT_IP_HEADER="X-Forwarded-For",
    )
    env.update(overrides)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


# Neither command connects to PostgreSQL or Redis, so both run on either leg.
DEPLOYMENTS = pytest.mark.parametrize(
    "services",
    [
        {},
        {
            "DATABASE_URL": "postgres://app@db.internal:5432/authproject",
            "REDIS_URL": "redis://cache.internal:6379/0",
        },
    ],
    ids=["embedded", "postgresql+redis"],
)


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory) -> str:
    """A STATIC_ROOT after `collectstatic`, as each release makes one."""
    root = tmp_path_factory.mktemp("static")
    result = run(production_env(DJANGO_STATIC_ROOT=str(root)), "manage.py", "collectstatic", "--noinput")
    assert result.returncode == 0, result.stdout + result.stderr
    return str(root)


@DEPLOYMENTS
def test_check_deploy_is_clean_apart_from_the_documented_exceptions(services, collected_static):
    env = production_env(DJANGO_STATIC_ROOT=collected_static, **services)

    result = run(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    # admin.E410 (no SessionMiddleware) and HSTS includeSubDomains / preload:
    # see SILENCED_SYSTEM_CHECKS in settings.py and docs/production.md.
    assert "System check identified no issues (3 silenced)." in result.stdout


def test_check_deploy_without_collected_static_files_is_an_error_that_says_what_to_run(tmp_path):
    # Without it, every page answered 500 ("Missing staticfiles manifest entry").
    env = production_env(DJANGO_STATIC_ROOT=str(tmp_path / "never-collected"))

    result = run(env, "manage.py", "check", "--deploy")

    assert result.returncode == 1
    assert "(tokens_app.E021) Static files have not been collected" in result.stderr
    assert "HINT: Run `python manage.py collectstatic --noinput`" in result.stderr


def test_check_deploy_warns_when_behind_the_proxy_no_client_ip_source_is_set():
    env = production_env()
    del env["TOKENS_CLIENT_IP_HEADER"]

    result = run(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert "tokens_app.W010" in result.stderr + result.stdout
    assert "TOKENS_CLIENT_IP_HEADER" in result.stderr + result.stdout


@DEPLOYMENTS
def test_gunicorn_config_reads_the_environment_and_loads_the_app(services):
    env = production_env(GUNICORN_BIND="127.0.0.1:18150", WEB_CONCURRENCY="3", **services)

    result = run(env, "-m", "gunicorn", "-c", "authproject/gunicorn.conf.py", "--print-config")

    assert result.returncode == 0, result.stdout + result.stderr
    config = {
        name.strip(): value.strip()
        for name, _, value in (line.partition("=") for line in result.stdout.splitlines())
    }
    assert config["bind"] == "['127.0.0.1:18150']"
    assert config["workers"] == "3"
    assert config["preload_app"] == "True"
    assert config["wsgi_app"] == "authproject.wsgi:application"
    assert config["forwarded_allow_ips"] == "['127.0.0.1', '::1']"


def test_gunicorn_refuses_to_start_without_the_secrets():
    # preload_app: the master imports Django, so a missing secret stops the
    # start with Django's message instead of crash-looping the workers.
    env = production_env()
    del env["ACCESS_TOKEN_SECRET"]

    result = run(env, "-m", "gunicorn", "-c", "authproject/gunicorn.conf.py", "--check-config")

    assert result.returncode != 0
    assert "Missing secret(s) in the environment: ACCESS_TOKEN_SECRET" in result.stdout + result.stderr
