"""The arms of the benchmark, how wrk drives each one, and how its report is read.

Every GET arm sends the same request (all the cookies a signed-in browser
holds; the simplejwt arms add the ``Authorization: Bearer`` header their
authentication class reads) and is served by the same view body.
"""

from __future__ import annotations

import http.client
import json
import re
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Arm:
    key: str
    label: str
    path: str
    # main: immediate revocation on; norev: off; eddsa: on, EdDSA access tokens; asgi: main under uvicorn
    server: str = "main"
    kind: str = "get"  # get | refresh | sjwt_refresh | login
    authenticated: bool = True
    connections: int = 4
    bearer: bool = False  # sends simplejwt's access token in Authorization


ARMS = [
    Arm("floor", "Floor: no authentication", "/bench/floor/", authenticated=False),
    Arm("django", "Django DB sessions (login_required)", "/bench/django/"),
    Arm("ours", "Ours, browser (middleware), revocation on", "/bench/ours/"),
    Arm("ours_norev", "Ours, browser (middleware), revocation off", "/bench/ours/", server="norev"),
    Arm("floor_asgi", "Floor under uvicorn (ASGI)", "/bench/floor/", server="asgi", authenticated=False),
    Arm(
        "ours_asgi",
        "Ours, browser (middleware), revocation on, uvicorn (ASGI)",
        "/bench/ours/",
        server="asgi",
    ),
    Arm(
        "ours_eddsa",
        "Ours, browser (middleware), EdDSA access token, revocation on",
        "/bench/ours/",
        server="eddsa",
    ),
    Arm("drf_noauth", "DRF view, no authentication", "/bench/api-noauth/", authenticated=False),
    Arm("drf", "Ours, DRF (CookieTokenAuthentication), revocation on", "/bench/api/"),
    Arm("drf_norev", "Ours, DRF (CookieTokenAuthentication), revocation off", "/bench/api/", server="norev"),
    Arm("sjwt", "simplejwt JWTAuthentication (DRF, user row read)", "/bench/sjwt/", bearer=True),
    Arm(
        "sjwt_stateless",
        "simplejwt JWTStatelessUserAuthentication (DRF, no database)",
        "/bench/sjwt-stateless/",
        bearer=True,
    ),
    Arm(
        "refresh",
        "Ours, refresh with rotation (POST /api/auth/refresh/)",
        "/api/auth/refresh/",
        kind="refresh",
    ),
    Arm(
        "sjwt_refresh",
        "simplejwt refresh, rotation + blacklist (POST /bench/sjwt/refresh/)",
        "/bench/sjwt/refresh/",
        kind="sjwt_refresh",
    ),
    Arm("login", "Login (POST /api/auth/login/)", "/api/auth/login/", kind="login", connections=2),
]
ARM_KEYS = [arm.key for arm in ARMS]


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int
    cpu_us: float = 0.0  # server CPU (master + workers) per request


@dataclass
class ArmResult:
    arm: Arm
    samples: list[Sample] = field(default_factory=list)
    queries: float | None = None
    redis_commands: float | None = None  # None: the backend has no Redis
    redis_breakdown: dict[str, float] = field(default_factory=dict)  # every command that moved
    redis_background: dict[str, float] = field(default_factory=dict)  # per second with no request

    def median(self, name: str) -> float:
        return statistics.median(getattr(s, name) for s in self.samples)


# ---------------------------------------------------------------- wrk's report

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def _find(pattern: str, out: str) -> str:
    match = re.search(pattern, out, re.M)
    if match is None:
        raise ValueError(f"wrk report without {pattern!r}:\n{out}")
    return match.group(1)


def parse_wrk(out: str) -> Sample:
    rps = float(_find(r"Requests/sec:\s+([\d.]+)", out))
    p50 = _ms(_find(r"^\s+50%\s+(\S+)", out))
    p99 = _ms(_find(r"^\s+99%\s+(\S+)", out))
    total = int(_find(r"(\d+) requests in", out))
    bad = 0
    if match := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        bad += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        # read errors are connection closes after the response (sync workers
        # do not keep connections alive); the others are real failures.
        bad += int(match.group(1)) + int(match.group(3)) + int(match.group(4))
    return Sample(rps, p50, p99, total, bad)


# ---------------------------------------------------------------- driving the arms

# More refresh tokens than a run of this many seconds can use; a run that still
# ran out answers 401 and stops the bench. simplejwt's refresh is slower than ours.
TOKENS_PER_SECOND = {"refresh": 2000, "sjwt_refresh": 1000}


def tokens_for(kind: str, seconds: int) -> int:
    return seconds * TOKENS_PER_SECOND[kind] + 500


class CpuMeter(Protocol):
    port: int

    def cpu_seconds(self) -> float: ...


def request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None, body: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


class Driver:
    """Builds each arm's requests, for wrk and for single checks, on one backend."""

    def __init__(self, seed: dict[str, Any], workdir: Path, servers: dict[str, CpuMeter]) -> None:
        self.seed, self.workdir, self.servers = seed, workdir, servers
        self.cookies: dict[str, str] = {}
        for server in servers:
            cookies = dict(seed["cookies"])
            if server in seed.get("access_tokens", {}):
                # This server signs access tokens with its own key: present one of its own.
                cookies[seed["access_cookie"]] = seed["access_tokens"][server]
            self.cookies[server] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.tokens = {
            "refresh": (workdir / "refresh_tokens.txt").read_text().split(),
            "sjwt_refresh": (workdir / "sjwt_refresh_tokens.txt").read_text().split(),
        }
        self.cursor = {"refresh": 0, "sjwt_refresh": 0}
        self.runs = 0

    def take_tokens(self, kind: str, count: int) -> list[str]:
        start = self.cursor[kind]
        chunk = self.tokens[kind][start : start + count]
        self.cursor[kind] += count
        if len(chunk) < count:
            raise SystemExit(f"{kind} token pool exhausted: raise --refresh-tokens")
        return chunk

    def get_headers(self, arm: Arm) -> dict[str, str]:
        headers = {"Cookie": self.cookies[self._server(arm)], "Accept": "application/json"}
        if arm.bearer:
            headers["Authorization"] = f"Bearer {self.seed['sjwt_access']}"
        return headers

    def _server(self, arm: Arm) -> str:
        # The ASGI server shares the main server's keys and settings.
        return "main" if arm.server == "asgi" else arm.server

    def wrk_command(self, arm: Arm, duration: int) -> list[str]:
        port = self.servers[arm.server].port
        if arm.kind == "login":
            # A login takes ~0.3 s of CPU: a one-second quick run would time none.
            duration = max(duration, 3)
        url = f"http://{HOST}:{port}"
        cmd = ["wrk", "-t1", f"-c{arm.connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
        if arm.kind == "get":
            for name, value in self.get_headers(arm).items():
                cmd += ["-H", f"{name}: {value}"]
            return [*cmd, url + arm.path]
        if arm.kind in TOKENS_PER_SECOND:
            self.runs += 1
            token_file = self.workdir / f"{arm.kind}_run_{self.runs}.txt"
            token_file.write_text(
                "\n".join(self.take_tokens(arm.kind, tokens_for(arm.kind, duration))) + "\n"
            )
            seed = self.seed
            extra = (
                [seed["csrf"], seed["csrf_cookie"], seed["refresh_cookie"]] if arm.kind == "refresh" else []
            )
            return [*cmd, "-s", str(BENCH / "lua" / f"{arm.kind}.lua"), url, "--", str(token_file), *extra]
        seed = self.seed
        script = str(BENCH / "lua" / "login.lua")
        return [
            *cmd,
            "-s",
            script,
            url,
            "--",
            seed["username"],
            seed["password"],
            seed["csrf"],
            seed["csrf_cookie"],
        ]

    def wrk(self, arm: Arm, duration: int) -> Sample:
        cmd = self.wrk_command(arm, duration)
        server = self.servers[arm.server]
        cpu_before = server.cpu_seconds()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        sample = parse_wrk(out)
        sample.cpu_us = (server.cpu_seconds() - cpu_before) / max(sample.requests, 1) * 1e6
        return sample

    def one(self, arm: Arm, *, count: bool) -> tuple[int, dict[str, str], bytes]:
        """One request outside wrk, to check the answer and count its queries."""
        port = self.servers[arm.server].port
        extra = {"X-Bench-Count-Queries": "1"} if count else {}
        seed, csrf = self.seed, self.seed["csrf"]
        if arm.kind == "get":
            return request(port, "GET", arm.path, {**self.get_headers(arm), **extra})
        if arm.kind == "refresh":
            (token,) = self.take_tokens("refresh", 1)
            cookie = f"{seed['csrf_cookie']}={csrf}; {seed['refresh_cookie']}={token}"
            return request(port, "POST", arm.path, {"Cookie": cookie, "X-CSRFToken": csrf, **extra})
        if arm.kind == "sjwt_refresh":
            (token,) = self.take_tokens("sjwt_refresh", 1)
            body = json.dumps({"refresh": token})
            return request(port, "POST", arm.path, {"Content-Type": "application/json", **extra}, body)
        body = json.dumps({"username": seed["username"], "password": seed["password"]})
        headers = {
            "Cookie": f"{seed['csrf_cookie']}={csrf}",
            "X-CSRFToken": csrf,
            "Content-Type": "application/json",
            **extra,
        }
        return request(port, "POST", arm.path, headers, body)


def check_answer(arm: Arm, status: int, body: bytes, user_id: int) -> None:
    """A redirect to the login page would count as success in wrk: refuse it here."""
    if status != 200:
        raise SystemExit(f"arm {arm.key}: HTTP {status} {body[:300]!r}")
    if arm.kind != "get":
        return
    got = json.loads(body).get("user", {}).get("id")
    want = user_id if arm.authenticated else None
    # simplejwt's TokenUser names the user by the token's claim, a string.
    if (None if got is None else str(got)) != (None if want is None else str(want)):
        raise SystemExit(f"arm {arm.key}: expected user id {want}, got {got}")
