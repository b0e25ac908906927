"""Real app servers for tests: gunicorn in the production configuration.

``deployment(tmp, "name", users=...)`` sets up what a deployment shares (a
database of its own, migrated, static files collected, users created, a cache
key prefix of its own) and yields a ``Deployment``, whose ``start()`` adds
gunicorn servers (authproject/gunicorn.conf.py) on free loopback ports; all of
it is stopped and removed afterwards. The database is PostgreSQL when the
run's DATABASE_URL is postgres:// (a database named after it and the
deployment, created and dropped here), a SQLite file in ``tmp`` otherwise; the
cache is REDIS_URL's when exported, each server's own local memory otherwise.

``spawn()`` runs any server process this way (its own process group, output
in a log file, ready when it answers); ``Browser`` is a small cookie-keeping
HTTP client.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
import redis
from psycopg import sql

from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE

ROOT = Path(__file__).resolve().parents[1]
# Loopback ports for the test servers ("first-last"); a port already taken is skipped.
_first, _last = os.environ.get("TEST_SERVER_PORTS", "18101-18189").split("-")
PORTS = range(int(_first), int(_last) + 1)


def free_port(exclude: set[int] = frozenset(), *, ports: range = PORTS, from_top: bool = False) -> int:
    """A port of ``ports`` that nothing holds now (the caller binds it next)."""
    for port in reversed(ports) if from_top else ports:
        if port in exclude:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")


def closed_port(exclude: set[int] = frozenset()) -> int:
    """A port in our range with nothing listening: connecting is refused at once.

    Taken from the top of the range, servers from the bottom: a server started
    next must not land on it."""
    return free_port(exclude, from_top=True)


def listening(port: int) -> bool:
    """Whether something accepts connections on ``port`` of the loopback."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def database_url(name: str) -> str:
    """DATABASE_URL of this run, pointing at database ``name`` instead."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_connection() -> psycopg.Connection:
    return psycopg.connect(database_url("postgres"), autocommit=True)


def create_database(name: str) -> str:
    """Create (or re-create, after a crashed run) database ``name``; returns its URL."""
    with _admin_connection() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(name)


def drop_database(name: str) -> None:
    with _admin_connection() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@dataclass
class Server:
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        # A worker stuck in a blocking call can outlive its master; the server
        # runs in a process group of its own, so end whatever is left of it.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def spawn(
    command: list[str],
    *,
    port: int,
    env: dict[str, str],
    log: Path,
    ready: Callable[[Server], bool] | None = None,
    timeout: float = 30,
) -> Server:
    """Run ``command``, a server for ``port``, and return once it is ``ready``
    (by default: something listens on the port). Its output goes to ``log``; it
    runs in a process group of its own, for Server.stop()."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(port, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{' '.join(command)} on {port} exited:\n{server.output()}")
        try:
            if ready(server) if ready else listening(port):
                return server
        except OSError:  # refused, reset or timed out while it boots
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{' '.join(command)} on {port} did not start:\n{server.output()}")


def start_gunicorn(env: dict[str, str], port: int, log: Path) -> Server:
    return spawn(
        [sys.executable, "-m", "gunicorn", "-c", "authproject/gunicorn.conf.py"],
        port=port,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        log=log,
        ready=lambda server: Browser(server).get("/healthz/").status == 200,
    )


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    set_cookies: dict[str, str]

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Browser:
    """Just enough of a browser: a cookie jar, HTTPS as seen behind the TLS
    proxy (X-Forwarded-Proto), and the Origin header on unsafe requests."""

    server: Server
    cookies: dict[str, str] = field(default_factory=dict)

    def at(self, server: Server) -> Browser:
        """The same cookies sent to another app server (as a load balancer would)."""
        return Browser(server, dict(self.cookies))

    def request(self, method: str, path: str, *, form=None, payload=None, headers=None) -> Response:
        origin = f"https://{self.server.host}"
        sent = {"Host": self.server.host, "X-Forwarded-Proto": "https", "User-Agent": "server-leg-test"}
        body = None
        if form is not None:
            body, sent["Content-Type"] = urlencode(form), "application/x-www-form-urlencoded"
        elif payload is not None:
            body, sent["Content-Type"] = json.dumps(payload), "application/json"
        if method not in ("GET", "HEAD"):
            sent["Origin"] = origin
            sent["Referer"] = origin + "/"
            if "__Host-csrftoken" in self.cookies:
                sent["X-CSRFToken"] = self.cookies["__Host-csrftoken"]
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        sent.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=20)
        try:
            conn.request(method, path, body=body, headers=sent)
            raw = conn.getresponse()
            payload_bytes = raw.read()
        finally:
            conn.close()
        set_cookies: dict[str, str] = {}
        for header in raw.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                set_cookies[name] = morsel.value
                if morsel.value == "" or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Response(raw.status, raw.headers, payload_bytes, set_cookies)

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> Response:
        return self.request("POST", path, **kwargs)

    def log_in(self, username: str, password: str) -> Response:
        page = self.get("/accounts/login/")
        assert page.status == 200, page.text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = self.post(
            "/accounts/login/",
            form={"username": username, "password": password, "csrfmiddlewaretoken": token},
        )
        assert response.status == 302, response.text
        assert {ACCESS_COOKIE, REFRESH_COOKIE} <= self.cookies.keys()
        return response


@dataclass
class Deployment:
    """The app servers of one deployment, sharing one database and one cache,
    as behind a load balancer."""

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
        """Another server of the deployment, ``env`` overriding its environment;
        its log is tmp/NAME.log."""
        port = free_port({server.port for server in self.started})
        server = start_gunicorn({**self.env, **env}, port, self.tmp / f"{name}.log")
        self.started.append(server)
        return server

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)


CREATE_USERS = """
from django.contrib.auth import get_user_model
User = get_user_model()
for name, password in {users!r}.items():
    User.objects.create_user(name, f"{{name}}@example.com", password)
for name, password in {admins!r}.items():
    User.objects.create_superuser(name, f"{{name}}@example.com", password)
"""


@contextlib.contextmanager
def deployment(
    tmp: Path,
    name: str,
    *,
    users: dict[str, str],
    admins: dict[str, str] | None = None,
    servers: int = 1,
    **env: str,
) -> Iterator[Deployment]:
    """A deployment called ``name`` with ``servers`` app servers started (their
    logs: tmp/server-N.log), ``users`` and ``admins`` (name: password) created;
    ``env`` overrides the servers' environment below."""
    postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    # Named after the run's database, so parallel runs (other DATABASE_URLs) do not collide.
    database = urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/") + f"_{name}"
    # Unique per run, and removed after: counts in a shared Redis start from zero.
    prefix = f"authproject-{name}-{os.getpid()}-{time.monotonic_ns()}"
    if postgres:
        url = create_database(database)
    else:
        url = f"sqlite:///{tmp / f'{name}.sqlite3'}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECRET_KEY": "live-django-secret-key-not-for-production-0123456789",
        "ACCESS_TOKEN_SECRET": "live-access-secret-not-for-production-0123456789abcdef",
        "REFRESH_TOKEN_SECRET": "live-refresh-secret-not-for-production-0123456789abcdef",
        "CACHE_KEY_PREFIX": prefix,
        "DJANGO_STATIC_ROOT": str(tmp / "static"),
        # Production behind the TLS proxy (X-Forwarded-Proto, as Browser sends it).
        "DJANGO_SECURE_SSL_REDIRECT": "1",
        # One process: without REDIS_URL, each server's cache is its worker's memory.
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "4",
        # No worker recycled (and its local-memory cache lost) in the middle of a test.
        "GUNICORN_MAX_REQUESTS": "0",
        **env,
    }
    started = Deployment(env, tmp)
    try:
        started.manage("migrate", "--noinput")
        # Production static storage (the hashed manifest) needs it, even for error pages.
        started.manage("collectstatic", "--noinput")
        started.manage("shell", "-c", CREATE_USERS.format(users=users, admins=admins or {}))
        for number in range(1, servers + 1):
            started.start(f"server-{number}")
        yield started
    finally:
        for server in started.started:
            server.stop()
        if postgres:
            drop_database(database)
        if os.environ.get("REDIS_URL"):
            client = redis.Redis.from_url(os.environ["REDIS_URL"])
            keys = list(client.scan_iter(match=f"{prefix}:*"))
            if keys:
                client.delete(*keys)
