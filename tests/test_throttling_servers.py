"""The production leg: two app servers on PostgreSQL share one Redis, so a
limit reached through one holds on the other.

Run with DATABASE_URL=postgres://... and REDIS_URL=redis://... exported
(``pytest -m server``); without them tests/server_leg.py reports the module
as skipped, or fails it on CI's second leg.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from http.cookies import SimpleCookie
from itertools import cycle

import pytest

from tests.live_servers import deployment, manage

pytestmark = pytest.mark.server

PASSWORD = "live-password-5d0c7e31"
USERS = {name: PASSWORD for name in ("victim", "victim2", "resetter", "bystander", "target")}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("servers")
    with deployment(
        tmp_path,
        "throttling",
        users=USERS,
        servers=2,
        # Plain HTTP, as urllib speaks it here: no TLS proxy in front.
        DJANGO_SECURE_SSL_REDIRECT="0",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
        # As docs/production.md deploys it: the proxy appends the client's address.
        TOKENS_CLIENT_IP_HEADER="X-Forwarded-For",
    ) as servers:
        yield [server.url for server in servers.started], servers.env, tmp_path


def request(url: str, *, data: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) without raising on 4xx, without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(
            urllib.request.Request(url, data=data, headers=headers or {}), timeout=30
        ) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def csrf_token(base: str) -> str:
    _, headers, _ = request(f"{base}/api/auth/csrf/")
    jar = SimpleCookie()
    for header in headers.get_all("Set-Cookie"):
        jar.load(header)
    return jar["__Host-csrftoken"].value


def api_login(base: str, username: str, password: str, token: str, *, client: str | None = None):
    headers = {
        "Content-Type": "application/json",
        "X-CSRFToken": token,
        "Cookie": f"__Host-csrftoken={token}",
    }
    if client is not None:
        headers["X-Forwarded-For"] = client  # as the proxy writes it
    return request(
        f"{base}/api/auth/login/",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers=headers,
    )


def test_failures_on_either_server_lock_the_account_on_both(servers):
    (a, b), _, _ = servers
    token = csrf_token(a)
    for base, _ in zip(cycle([a, b]), range(5), strict=False):
        status, _, _ = api_login(base, "victim", "wrong", token)
        assert status == 401

    for base in (a, b):
        status, headers, body = api_login(base, "victim", PASSWORD, token)
        assert status == 429, body
        assert json.loads(body)["code"] == "throttled"
        assert 1 <= int(headers["Retry-After"]) <= 300


def test_clear_lockout_command_unlocks_the_account_on_both_servers(servers):
    (a, b), env, _ = servers
    token = csrf_token(b)
    for base, _ in zip(cycle([b, a]), range(5), strict=False):
        api_login(base, "victim2", "wrong", token)
    assert api_login(a, "victim2", PASSWORD, token)[0] == 429

    output = manage(env, "clear_lockout", "victim2")

    assert "victim2: was locked, now cleared." in output
    assert api_login(b, "victim2", PASSWORD, token)[0] == 200


def test_reset_mail_per_address_is_counted_across_servers(servers):
    (a, b), _, tmp_path = servers
    token = csrf_token(a)
    for base, _ in zip(cycle([a, b]), range(5), strict=False):
        status, headers, _ = request(
            f"{base}/accounts/password_reset/",
            data=urllib.parse.urlencode(
                {"email": "resetter@example.com", "csrfmiddlewaretoken": token}
            ).encode(),
            headers={
                "Cookie": f"__Host-csrftoken={token}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert (status, headers["Location"]) == (302, "/accounts/password_reset/done/")

    sent = [path.read_text() for path in (tmp_path / "mail").iterdir()]
    assert sum(len(re.findall(r"^To: resetter@example.com$", text, re.M)) for text in sent) == 3


def test_behind_the_proxy_one_clients_failed_logins_lock_no_one_else_out(servers):
    (a, b), _, _ = servers
    token = csrf_token(a)
    for n, base in zip(range(32), cycle([a, b]), strict=False):
        api_login(base, f"nobody{n}", "wrong", token, client="203.0.113.5")
    assert api_login(a, "bystander", PASSWORD, token, client="203.0.113.5")[0] == 429

    for base in (a, b):
        status, _, body = api_login(base, "bystander", PASSWORD, token, client="203.0.113.6")
        assert status == 200, body


def test_twelve_parallel_wrong_guesses_on_two_servers_are_checked_at_most_five_times(servers):
    from concurrent.futures import ThreadPoolExecutor

    (a, b), _, _ = servers
    token = csrf_token(a)

    def guess(base: str) -> int:
        return api_login(base, "target", "wrong", token, client="198.51.100.77")[0]

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = sorted(pool.map(guess, [a, b] * 6))

    assert statuses.count(401) <= 5
    assert statuses == [401] * statuses.count(401) + [429] * (12 - statuses.count(401))
    assert api_login(b, "target", PASSWORD, token, client="198.51.100.77")[0] == 429
