"""Two gunicorn servers sharing PostgreSQL and Redis, as behind a load balancer.

The servers run the production configuration (DEBUG off, gunicorn.conf.py,
collected static files served by WhiteNoise, HTTPS as reported by the proxy)
against a database of their own, created and migrated here and dropped after.
"""

from __future__ import annotations

import os
import re
import time

import pytest
import redis

from tests.server.servers import (
    Browser,
    create_database,
    drop_database,
    free_port,
    manage,
    start_gunicorn,
)

pytestmark = pytest.mark.server

DATABASE = "authproject_prod_multi"
PASSWORD = "multi server passphrase 7"
CREATE_USERS = f"""
from django.contrib.auth import get_user_model
User = get_user_model()
User.objects.create_user("alice", "alice@example.com", {PASSWORD!r})
User.objects.create_superuser("admin", "admin@example.com", {PASSWORD!r})
"""


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multi")
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
    started = []
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput")
        manage(env, "shell", "-c", CREATE_USERS)
        first = start_gunicorn(env, free_port(), tmp / "a.log")
        started.append(first)
        second = start_gunicorn(env, free_port({first.port}), tmp / "b.log")
        started.append(second)
        yield first, second
    finally:
        for server in started:
            server.stop()
        drop_database(DATABASE)
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)


def test_force_logout_on_one_server_is_refused_by_the_other_on_the_very_next_request(servers):
    first, second = servers
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
    assert page.set_cookies["access_token"] == ""
    api = Browser(second, dict(cookies)).get("/api/auth/me/")
    assert (api.status, api.json()["code"]) == (401, "token_revoked")
    # ...and the next refresh.
    refresh = Browser(second, dict(cookies)).post("/api/auth/refresh/")
    assert (refresh.status, refresh.json()["code"]) == (401, "token_revoked")
    assert refresh.set_cookies["refresh_token"] == ""


def test_collected_static_files_are_served_by_whitenoise(servers):
    first, _ = servers
    page = Browser(first).get("/accounts/login/")
    stylesheet = re.search(r'href="(/static/site\.[0-9a-f]{12}\.css)"', page.text)
    assert stylesheet, page.text

    css = Browser(first).get(stylesheet.group(1))

    assert css.status == 200
    assert css.headers["Content-Type"].startswith("text/css")
    # Hashed names never change content, so browsers may keep them forever.
    assert "immutable" in css.headers["Cache-Control"]


def test_the_access_log_records_requests_without_secrets(servers):
    first, _ = servers
    Browser(first).get("/accounts/reset/MQ/c0ffee-0123456789abcdef/")

    deadline = time.monotonic() + 10  # the worker writes the line after answering
    while "/accounts/reset/" not in (log := first.output()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "GET /accounts/reset/MQ/********/ HTTP/1.1" in log
    assert "c0ffee-0123456789abcdef" not in log
