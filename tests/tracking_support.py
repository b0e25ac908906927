"""Helpers for the revocation-tracking tests (tokens_app/tracking.py).

``OwnRedis`` is a redis-server of the test's own, on a free loopback port:
tests that restart, flush, pause or count the commands of Redis must not do
it to the shared one. ``Load`` makes requests with one access token in a
thread while a test breaks things, recording what each request got.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from django.db import connections
from django.db.models import F
from django.test import Client, override_settings
from django.utils import timezone

from tests.live_servers import ROOT, Server, free_port, spawn
from tokens_app import tracking
from tokens_app.conf import app_settings
from tokens_app.models import LoginSession
from tokens_app.versions import remember, storage

# Commands that are not requests' own: our INFO, the listener's heartbeat.
_NOT_COUNTED = {"cmdstat_info", "cmdstat_ping"}
_END_OF_MONITOR = "end-of-monitor"


@dataclass
class OwnRedis:
    tmp: Path
    port: int = 0
    server: Server | None = None
    _client: redis.Redis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def client(self) -> redis.Redis:
        # One connection, made once: a new one would count its own HELLO.
        if self._client is None:
            self._client = redis.Redis(port=self.port, socket_timeout=5, single_connection_client=True)
        return self._client

    def start(self) -> None:
        self.port = self.port or free_port()
        self._client = None
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.tmp)]
        self.server = spawn(command, port=self.port, env=dict(os.environ), log=self.tmp / "redis.log")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def commands(self) -> dict[str, int]:
        """Calls per command since the server started, minus INFO and PING."""
        stats = self.client.info("commandstats")
        return {name: value["calls"] for name, value in stats.items() if name not in _NOT_COUNTED}

    @contextlib.contextmanager
    def monitor(self) -> Iterator[list[list[str]]]:
        """The commands Redis runs while the block runs, in order (MONITOR)."""
        seen: list[list[str]] = []
        connection = redis.Connection(port=self.port, socket_timeout=5)
        connection.send_command("MONITOR")
        assert connection.read_response() in (b"OK", "OK")
        try:
            yield seen
            self.client.echo(_END_OF_MONITOR)
            while True:
                line = connection.read_response()
                line = line.decode() if isinstance(line, bytes) else str(line)
                command = [part.strip('"') for part in line.split("]", 1)[1].split()]
                if command == ["ECHO", _END_OF_MONITOR]:
                    break
                seen.append([command[0].upper(), *command[1:]])
        finally:
            connection.disconnect()

    def tracking_ids(self) -> list[int]:
        """The ids of the connections that receive our invalidations."""
        return [c["id"] for c in self.client.client_list() if c["name"].startswith("tokens-tracking")]

    def kill_tracking(self) -> int:
        ids = self.tracking_ids()
        for client_id in ids:
            self.client.client_kill_filter(_id=client_id)
        return len(ids)


@contextlib.contextmanager
def own_redis_server(tmp: Path) -> Iterator[OwnRedis]:
    """A redis-server started for one test (the tests' ``own_redis`` fixture)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis(tmp)
    server.start()
    try:
        yield server
    finally:
        tracking.stop()
        server.stop()


@contextlib.contextmanager
def cache_on(own: OwnRedis, **settings: object) -> Iterator[None]:
    """The default cache on ``own``, with immediate revocation and tracking."""
    caches = {
        "default": {
            "BACKEND": "authproject.cache.RedisCache",
            "LOCATION": own.url,
            "KEY_PREFIX": "tracking-test",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    with override_settings(CACHES=caches, TOKENS_IMMEDIATE_REVOCATION=True, **settings):
        yield
    tracking.stop()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def tracking_live() -> bool:
    local = tracking.local_cache()
    return local is not None and local.live


def bump_elsewhere(user, redis_client: redis.Redis | None) -> int:
    """token_version + 1 as another app server commits it: in the database, and
    written through to Redis (``redis_client``; None: its write was lost)."""
    model, column, lookup, _ = storage()
    rows = model._default_manager.filter(**{lookup: user.pk})
    rows.update(**{column: F(column) + 1})
    version = rows.values_list(column, flat=True).get()
    if redis_client is not None:
        publish_elsewhere(redis_client, f"tokens:ver:{user.pk}", version)
    remember(user, version)  # tokens issued from ``user`` later carry it
    return version


def end_device_elsewhere(session_id: object, redis_client: redis.Redis) -> None:
    """A device session ended as another app server commits it: the row, then
    the write-through of its marker."""
    LoginSession.objects.filter(pk=session_id).update(revoked_at=timezone.now())
    publish_elsewhere(redis_client, f"tokens:sid:{session_id}", 1)


def publish_elsewhere(redis_client: redis.Redis, key: str, value: int) -> None:
    """The write-through of another app server: the SET, then the one more
    round trip that tokens_app.tracking.published makes after it."""
    redis_client.set(f"tracking-test:1:{key}", value)
    redis_client.ping()


def access_client(access: str) -> Client:
    client = Client()
    client.cookies[app_settings.ACCESS_COOKIE] = access
    return client


@dataclass
class Load:
    """GET /api/auth/me/ with one access token, in a thread, as fast as it goes."""

    access: str
    results: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Load:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert wait_until(lambda: len(self.results) >= 5), "the load made no requests"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        client = access_client(self.access)
        try:
            while not self._stop.is_set():
                sent = time.monotonic()
                self.results.append((sent, client.get("/api/auth/me/").status_code))
        finally:
            connections.close_all()

    def accepted_after(self, moment: float) -> list[tuple[float, int]]:
        return [(sent, status) for sent, status in self.results if sent > moment and status == 200]

    def sent_after(self, moment: float) -> int:
        return sum(1 for sent, _ in self.results if sent > moment)


def run_to_a_clean_exit(script: str, *, timeout: float) -> str:
    """Run ``script`` in a Python process of its own (from the project root)
    and return what it printed, once it has exited 0 with no traceback, in
    its main thread or any other."""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Exception in thread" not in result.stderr
    return result.stdout.strip()


def run_redis_cli(port: int, *args: str) -> str:
    return subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=True, timeout=10
    ).stdout
