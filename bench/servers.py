"""The processes a run needs: its database and Redis, and the app servers.

Reuses the test suite's helpers (``tests/live_servers.py``): process spawning
and stopping, free ports, and creating and dropping a PostgreSQL database.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.arms import request
from tests import live_servers

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
WORKERS = 2
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "sync")
BASE_PORT = int(os.environ.get("BENCH_PORT", "18300"))
PORTS = range(BASE_PORT, BASE_PORT + 100)


@dataclass
class Backend:
    key: str
    label: str
    env: dict[str, str]
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    redis_url: str | None = None  # the Redis whose INFO commandstats the run reads


def embedded_backend(workdir: Path) -> Backend:
    env = {"DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}"}
    return Backend("embedded", "SQLite + local-memory cache (embedded default)", env)


def server_backend(prefix: str, workdir: Path) -> Backend:
    """PostgreSQL + Redis: a throwaway database ``<name>_benchrun`` next to the
    one DATABASE_URL names (the named one is never touched), and a Redis of the
    run's own (a ``redis-server`` on a free port, so that INFO commandstats
    counts this run's commands only; ``BENCH_REDIS=env`` uses REDIS_URL's, with
    keys under a per-run prefix deleted at the end)."""
    name = f"{urlsplit(os.environ['DATABASE_URL']).path.lstrip('/') or 'authproject'}_benchrun"
    url = live_servers.create_database(name)  # drops one an interrupted run left behind
    backend = Backend("postgres", "PostgreSQL + Redis", {"DATABASE_URL": url, "CACHE_KEY_PREFIX": prefix})
    backend.cleanup.append(lambda: live_servers.drop_database(name))
    if os.environ.get("BENCH_REDIS") == "env":
        redis_url = os.environ["REDIS_URL"]
        backend.cleanup.append(lambda: _delete_keys(redis_url, prefix))
    else:
        redis_server = _own_redis(workdir)
        redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
        backend.cleanup.append(redis_server.stop)
    backend.env["REDIS_URL"] = backend.redis_url = redis_url
    return backend


def _own_redis(workdir: Path) -> live_servers.Server:
    port = live_servers.free_port(ports=PORTS, from_top=True)
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return live_servers.spawn(command, port=port, env=dict(os.environ), log=workdir / "redis.log")


def _delete_keys(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


class AppServer:
    """One app server (gunicorn: sync workers, or uvicorn workers for the ASGI arm) and its CPU meter."""

    def __init__(
        self, name: str, env: dict[str, str], log: Path, *, exclude: set[int], asgi: bool = False
    ) -> None:
        self.name = name
        self.port = live_servers.free_port(exclude, ports=PORTS)
        command = _uvicorn(self.port) if asgi else _gunicorn(self.port)
        self.server = live_servers.spawn(command, port=self.port, env=env, log=log, ready=self._ready)

    def _ready(self, _server: live_servers.Server) -> bool:
        return request(self.port, "GET", "/bench/floor/")[0] == 200

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its workers so far.

        Unlike requests/s this hardly moves when other processes compete for
        the cores, so it is the steadier figure on a shared machine. It leaves
        out what PostgreSQL and Redis spend in their own processes."""
        pid = self.server.process.pid
        pids = [pid]
        try:
            pids += [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            pass
        ticks = 0
        for each in pids:
            try:
                fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.server.stop()


def _gunicorn(port: int) -> list[str]:
    return [
        PYTHON,
        "-m",
        "gunicorn",
        "authproject.wsgi:application",
        *("--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "--worker-class", WORKER_CLASS),
        *("--backlog", "2048", "--log-level", "warning", "--timeout", "60"),
    ]


def _uvicorn(port: int) -> list[str]:
    # The same project, settings and worker count, under an ASGI server: gunicorn
    # managing uvicorn's worker class, as the WSGI arms' gunicorn manages sync
    # workers. (uvicorn's own `--workers` supervisor measured 76 requests/s
    # against 252 for this at 4 connections: its workers took turns, a ~50 ms wait each.)
    return [
        PYTHON,
        "-m",
        "gunicorn",
        "authproject.asgi:application",
        *(
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "uvicorn.workers.UvicornWorker",
        ),
        *("--backlog", "2048", "--log-level", "warning", "--timeout", "60"),
    ]
