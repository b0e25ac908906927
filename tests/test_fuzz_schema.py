"""The JSON API fuzzed from its own OpenAPI schema by schemathesis.

A real server (tests/live_servers.py: gunicorn, production settings, a
throw-away SQLite database; PostgreSQL/Redis when DATABASE_URL/REDIS_URL are
exported) is started on a port of its own, and ``schemathesis run`` is
pointed at /api/schema/: anonymously, then with the cookies of a signed-in
user. Every check schemathesis has must pass: no 5xx, no status, header,
content type or body the schema does not describe, no crash. Bounded:
FUZZ_MAX_EXAMPLES (default 30) cases per operation; the example counts are
printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tests.live_servers import ROOT, deployment

MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "30")
USERNAME = "fuzzer"
PASSWORD = "fuzz-password-7c1e2a9b"
# Ending a session is fuzzed on its own run, so the others keep a live one.
# (A device list and its DELETE go together: the stateful phase deletes the
# sessions it lists, the current one included.)
SESSION_ENDING_RUNS = {
    "/api/auth/logout/": "^/api/auth/logout/$",
    "/api/auth/logout-all/": "^/api/auth/logout-all/$",
    "/api/auth/refresh/": "^/api/auth/refresh/$",
    "/api/auth/sessions/": "^/api/auth/sessions/",
}
SESSION_ENDING = "^/api/auth/(logout/|logout-all/|refresh/|sessions/)"
# One account per run: the authenticated run's stateful phase deletes every
# session it lists, which must not end the sessions the other runs use.
USERNAMES = (USERNAME, "fuzz-logout", "fuzz-logout-all", "fuzz-refresh", "fuzz-devices")

pytestmark = pytest.mark.skipif(
    shutil.which("schemathesis", path=str(Path(sys.executable).parent)) is None,
    reason="schemathesis is not installed (requirements-dev.txt)",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    users = dict.fromkeys(USERNAMES, PASSWORD)
    # Plain HTTP, as schemathesis speaks it: no TLS proxy in front.
    with deployment(
        tmp_path_factory.mktemp("fuzz"), "fuzz", users=users, DJANGO_SECURE_SSL_REDIRECT="0"
    ) as servers:
        yield servers.first.url, servers.first.log


def csrf_cookie(base: str) -> SimpleCookie:
    with urllib.request.urlopen(f"{base}/api/auth/csrf/") as response:
        jar = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie"):
            jar.load(header)
    return jar


def sign_in(base: str, username: str = USERNAME) -> SimpleCookie:
    """Log in through the API as a client would; the cookies it gets."""
    jar = csrf_cookie(base)
    csrf = jar["__Host-csrftoken"].value
    request = urllib.request.Request(
        f"{base}/api/auth/login/",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={
            "Content-Type": "application/json",
            "X-CSRFToken": csrf,
            "Cookie": f"__Host-csrftoken={csrf}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
        for header in response.headers.get_all("Set-Cookie"):
            jar.load(header)
    return jar


def schemathesis(
    base: str, tmp_path: Path, *args: str, jar: SimpleCookie | None = None, refresh: bool = False
):
    """One schemathesis run; ``jar`` supplies the CSRF token and, if it holds
    one, the access token (as the cookieAuth scheme's value)."""
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks", "PYTHONPATH": str(ROOT)}
    env.pop("FUZZ_CSRF_TOKEN", None)
    env.pop("FUZZ_REFRESH_TOKEN", None)
    config = tmp_path / f"schemathesis-{time.monotonic_ns()}.toml"
    config.write_text("")
    if jar is not None:
        env["FUZZ_CSRF_TOKEN"] = jar["__Host-csrftoken"].value
        if ACCESS_COOKIE in jar:
            config.write_text(f'[auth.openapi.cookieAuth]\napi_key = "{jar[ACCESS_COOKIE].value}"\n')
        if refresh:
            env["FUZZ_REFRESH_TOKEN"] = jar[REFRESH_COOKIE].value
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{base}/api/schema/?format=json",
        "--checks",
        "all",
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        os.environ.get("FUZZ_SEED", "20261123"),
        "--workers",
        "1",
        "--request-timeout",
        "20",
        *args,
    ]
    # cwd: schemathesis keeps a cache directory there.
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, output
    return output


def case_count(output: str) -> int:
    counts = re.findall(r"(\d+) generated", output)
    assert counts, "schemathesis printed no example count"
    return sum(int(n) for n in counts)


def test_the_api_survives_fuzzing_from_its_schema(server, capsys):
    base, log = server
    tmp = log.parent
    # Sessions are made first: the anonymous runs lock this IP out of logins.
    signed_in = sign_in(base)
    to_end = {
        path: sign_in(base, name) for path, name in zip(SESSION_ENDING_RUNS, USERNAMES[1:], strict=True)
    }

    outputs = {
        "anonymous without CSRF token": schemathesis(base, tmp),
        "anonymous": schemathesis(base, tmp, jar=csrf_cookie(base)),
        "authenticated": schemathesis(base, tmp, "--exclude-path-regex", SESSION_ENDING, jar=signed_in),
    }
    # Each way of ending a session gets a live session of its own.
    for path, jar in to_end.items():
        outputs[f"authenticated {path}"] = schemathesis(
            base, tmp, "--include-path-regex", SESSION_ENDING_RUNS[path], jar=jar, refresh=True
        )

    server_log = log.read_text()
    assert "Traceback" not in server_log, server_log
    with capsys.disabled():
        for name, output in outputs.items():
            print(f"\nschemathesis {name}: {case_count(output)} test cases")
