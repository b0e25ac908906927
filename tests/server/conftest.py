from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from django.db import connections

from tests.live_servers import (
    Server,
    create_database,
    drop_database,
    free_port,
    manage,
    start_gunicorn,
)

# Tests here carry ``pytestmark = pytest.mark.server``: they need PostgreSQL
# + Redis, and tests/server_leg.py reports (or fails) them when absent.

# The only database these tests create (the run's DATABASE_URL name +
# "_multi", so parallel runs do not collide); dropped when they end.
DATABASE = urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/") + "_multi"
PASSWORD = "multi server passphrase 7"
CREATE_USERS = f"""
from django.contrib.auth import get_user_model
User = get_user_model()
for name in ("alice", "bob"):
    User.objects.create_user(name, f"{{name}}@example.com", {PASSWORD!r})
User.objects.create_superuser("admin", "admin@example.com", {PASSWORD!r})
"""


def run_at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` in threads released together; return results (or raised
    exceptions) in order. Each thread has its own database connection, closed
    at the end, as a request in another worker would."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        try:
            barrier.wait(timeout=30)
            return call()
        except Exception as exc:
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@dataclass
class AppServers:
    """Two gunicorn servers in the production configuration, sharing one
    PostgreSQL database and one Redis, as behind a load balancer."""

    env: dict[str, str]
    tmp: Path
    started: list[Server] = field(default_factory=list)

    @property
    def first(self) -> Server:
        return self.started[0]

    @property
    def second(self) -> Server:
        return self.started[1]

    def start(self, name: str, **env: str) -> Server:
        """Another server of the same deployment, ``env`` overriding its environment."""
        port = free_port({server.port for server in self.started})
        server = start_gunicorn({**self.env, **env}, port, self.tmp / f"{name}.log")
        self.started.append(server)
        return server


@pytest.fixture(scope="session")
def app_servers(tmp_path_factory) -> Iterator[AppServers]:
    tmp = tmp_path_factory.mktemp("servers")
    prefix = f"authproject-multi-{os.getpid()}"
    env = {
        **os.environ,
        "DATABASE_URL": create_database(DATABASE),
        "CACHE_KEY_PREFIX": prefix,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE_SSL_REDIRECT": "1",
        "DJANGO_STATIC_ROOT": str(tmp / "static"),
        "WEB_CONCURRENCY": "2",
    }
    servers = AppServers(env, tmp)
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput")
        manage(env, "shell", "-c", CREATE_USERS)
        servers.start("first")
        servers.start("second")
        yield servers
    finally:
        for server in servers.started:
            server.stop()
        drop_database(DATABASE)
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
