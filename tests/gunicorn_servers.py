"""Real app servers for tests: gunicorn with production settings.

``app_servers(tmp_path, ports, users=...)`` migrates, collects static files,
creates the users, starts one gunicorn per port (all on the same database and
cache) and stops them afterwards. DATABASE_URL/REDIS_URL from the environment
are used when exported; otherwise a throw-away SQLite file and each server's
own local-memory cache.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def server_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECRET_KEY": "live-django-secret-key-not-for-production-0123456789",
        "ACCESS_TOKEN_SECRET": "live-access-secret-not-for-production-0123456789abcdef",
        "REFRESH_TOKEN_SECRET": "live-refresh-secret-not-for-production-0123456789abcdef",
        # Unique per run: counts in a shared Redis start from zero.
        "CACHE_KEY_PREFIX": f"live-{os.getpid()}-{time.monotonic_ns()}",
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{tmp_path / 'live.sqlite3'}")
    env.update(overrides)
    return env


def ensure_database(url: str) -> None:
    """CREATE DATABASE for a postgres:// URL if it is missing (never drops one)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        return
    import psycopg

    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:  # refused, reset or timed out while it boots
            time.sleep(0.2)
    raise AssertionError(f"server did not answer {url}")


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


@contextlib.contextmanager
def app_servers(
    tmp_path: Path, ports: list[int], *, users: dict[str, str], env: dict[str, str] | None = None
) -> Iterator[list[str]]:
    """Yields the servers' base URLs; each server's log is tmp_path/server-PORT.log."""
    env = env or server_env(tmp_path)
    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise AssertionError(f"port {port} is taken")
    ensure_database(env["DATABASE_URL"])
    manage(env, "migrate", "--noinput", "-v", "0")
    # Production static storage (the hashed manifest) needs it, even for error pages.
    manage(env, "collectstatic", "--noinput", "-v", "0")
    create = (
        "from django.contrib.auth import get_user_model; U = get_user_model(); "
        f"users = {users!r}; "
        "U.objects.filter(username__in=users).delete(); "
        "[U.objects.create_user(name, name + '@example.com', pw) for name, pw in users.items()]"
    )
    manage(env, "shell", "-c", create)
    processes = []
    try:
        for port in ports:
            log = (tmp_path / f"server-{port}.log").open("w")
            processes.append(
                (
                    subprocess.Popen(
                        [
                            str(BIN / "gunicorn"),
                            "authproject.wsgi",
                            "--bind",
                            f"127.0.0.1:{port}",
                            "--workers",
                            "1",
                            "--threads",
                            "4",
                            "--no-control-socket",
                        ],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    ),
                    log,
                )
            )
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base in bases:
            wait_for(f"{base}/healthz/")
        yield bases
    finally:
        for process, log in processes:
            process.terminate()
            process.wait(timeout=10)
            log.close()
