"""The database down: a clean 503, never a traceback, never a signed-out user.

A third app server of the same deployment is started with its database at a
closed port; the browser's cookies come from a healthy server.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tests.live_servers import Browser, Response, closed_port
from tests.server.conftest import PASSWORD

pytestmark = pytest.mark.server


def _keeps_cookies(response: Response) -> None:
    assert ACCESS_COOKIE not in response.set_cookies
    assert REFRESH_COOKIE not in response.set_cookies


@pytest.fixture
def database_down(app_servers):
    parts = urlsplit(app_servers.env["DATABASE_URL"])
    port = closed_port({server.port for server in app_servers.started})
    dead = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))
    server = app_servers.start("database-down", DATABASE_URL=dead)
    yield server
    server.stop()
    app_servers.started.remove(server)


def test_database_down_answers_503_and_keeps_the_cookies(app_servers, database_down):
    bob = Browser(app_servers.first)
    bob.log_in("bob", PASSWORD)
    assert bob.get("/").status == 200  # Redis now holds bob's token_version
    cookies = dict(bob.cookies)

    # Steady state needs no SQL, so a signed-in page is still served.
    home = Browser(database_down, dict(cookies)).get("/")
    assert home.status == 200
    assert "Hello, bob" in home.text

    # A page that reads the database: the 503 page, cookies untouched.
    page = Browser(database_down, dict(cookies)).get("/accounts/sessions/")
    assert page.status == 503
    assert "Temporarily unavailable" in page.text
    assert page.headers["Retry-After"] == "5"
    _keeps_cookies(page)

    api = Browser(database_down, dict(cookies)).get("/api/auth/sessions/")
    assert (api.status, api.json()["code"]) == (503, "service_unavailable")
    _keeps_cookies(api)

    refresh = Browser(database_down, dict(cookies)).post("/api/auth/refresh/")
    assert (refresh.status, refresh.json()["code"]) == (503, "service_unavailable")
    _keeps_cookies(refresh)

    # The access cookie expired (the browser dropped it): the silent refresh
    # cannot reach the database, and must not sign the user out for that.
    expired = {name: value for name, value in cookies.items() if name != ACCESS_COOKIE}
    silent = Browser(database_down, expired).get("/")
    assert silent.status == 503
    _keeps_cookies(silent)

    assert "Traceback" not in database_down.output()
    # The same cookies still work where the database answers.
    assert Browser(app_servers.second, dict(cookies)).get("/api/auth/me/").status == 200
    assert Browser(app_servers.second, expired).get("/").status == 200
