"""Real app servers for the server leg: gunicorn processes on loopback ports,
a throwaway PostgreSQL database, and a small cookie-keeping HTTP client."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
# This slice's loopback ports; a port already taken is skipped.
PORTS = range(18101, 18190)


def free_port(exclude: set[int] = frozenset(), *, from_top: bool = False) -> int:
    for port in reversed(PORTS) if from_top else PORTS:
        if port in exclude:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


def closed_port(exclude: set[int] = frozenset()) -> int:
    """A port in our range with nothing listening: connecting is refused at once.

    Taken from the top of the range, servers from the bottom: a server started
    next must not land on it."""
    return free_port(exclude, from_top=True)


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


def start_gunicorn(env: dict[str, str], port: int, log: Path) -> Server:
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "authproject/gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(port, process, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn on {port} exited:\n{server.output()}")
        try:
            status = Browser(server).get("/healthz/").status
        except OSError:
            status = None
        if status == 200:
            return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn on {port} did not start:\n{server.output()}")


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
            if "csrftoken" in self.cookies:
                sent["X-CSRFToken"] = self.cookies["csrftoken"]
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
        assert {"access_token", "refresh_token"} <= self.cookies.keys()
        return response
