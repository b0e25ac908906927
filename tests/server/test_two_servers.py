"""Two gunicorn servers sharing PostgreSQL and Redis, as behind a load balancer.

The servers run the production configuration (DEBUG off, gunicorn.conf.py,
collected static files served by WhiteNoise, HTTPS as reported by the proxy)
against a database of their own, created and migrated here and dropped after.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tests.live_servers import Browser
from tests.server.conftest import PASSWORD

pytestmark = pytest.mark.server


def test_force_logout_on_one_server_is_refused_by_the_other_on_the_very_next_request(app_servers):
    first, second = app_servers.first, app_servers.second
    alice = Browser(first)
    alice.log_in("alice", PASSWORD)

    # Signed in on the first server, recognised by the second: nothing about
    # the session lives in a worker.
    on_second = alice.at(second)
    page = on_second.get("/")
    assert page.status == 200
    assert "Hello, alice" in page.text
    me = on_second.get("/api/auth/me/")
    assert me.status == 200
    alice_id = me.json()["user"]["id"]
    # A refresh rotated on the second server is honoured by the first.
    assert on_second.post("/api/auth/refresh/").status == 200
    assert on_second.at(first).get("/api/auth/me/").status == 200
    cookies = dict(on_second.cookies)

    admin = Browser(first)
    admin.log_in("admin", PASSWORD)
    forced = admin.post(f"/admin/tokens_app/user/{alice_id}/force-logout/")
    assert forced.status == 302, forced.text

    # The very next request on the second server, with a still-unexpired access token:
    page = Browser(second, dict(cookies)).get("/")
    assert page.status == 302
    assert page.headers["Location"].startswith("/accounts/login/")
    assert page.set_cookies[ACCESS_COOKIE] == ""
    api = Browser(second, dict(cookies)).get("/api/auth/me/")
    assert (api.status, api.json()["code"]) == (401, "token_revoked")
    # ...and the next refresh.
    refresh = Browser(second, dict(cookies)).post("/api/auth/refresh/")
    assert (refresh.status, refresh.json()["code"]) == (401, "token_revoked")
    assert refresh.set_cookies[REFRESH_COOKIE] == ""


def test_collected_static_files_are_served_by_whitenoise(app_servers):
    first = app_servers.first
    page = Browser(first).get("/accounts/login/")
    stylesheet = re.search(r'href="(/static/tokens_app/tokens_app\.[0-9a-f]{12}\.css)"', page.text)
    assert stylesheet, page.text

    css = Browser(first).get(stylesheet.group(1))

    assert css.status == 200
    assert css.headers["Content-Type"].startswith("text/css")
    # Hashed names never change content, so browsers may keep them forever.
    assert "immutable" in css.headers["Cache-Control"]


def test_the_access_log_records_requests_without_secrets(app_servers):
    first = app_servers.first
    Browser(first).get("/accounts/reset/MQ/c0ffee-0123456789abcdef/")
    # The same link opened without its trailing slash, or with a slash encoded.
    Browser(first).get("/accounts/reset/MQ/c0ffee-0123456789abcdef")
    Browser(first).get("/accounts/reset/MQ%2Fc0ffee-0123456789abcdef%2F")

    deadline = time.monotonic() + 10  # the worker writes the line after answering
    while (log := first.output()).count("/accounts/reset/") < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert log.count("GET /accounts/reset/MQ/********/ HTTP/1.1") == 2, log
    assert "GET /accounts/reset/MQ/******** HTTP/1.1" in log
    assert "c0ffee-0123456789abcdef" not in log
