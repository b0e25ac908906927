"""Async views (tokens_app/middleware.py, request_user.py): ``await
request.auser()`` resolves the user on the event loop at steady state (no
thread hop: the access path needs no I/O, the revocation check is awaited),
once per request, with the silent refresh and revocation of the sync path."""

from __future__ import annotations

import io
import time

import pytest
from asgiref.sync import SyncToAsync, async_to_sync
from django.core.management import call_command
from django.test import AsyncClient

from tokens_app.conf import app_settings
from tokens_app.models import LoginSession
from tokens_app.testing import force_login

pytestmark = pytest.mark.urls("tests.urls_clients")


@pytest.fixture
def client(alice) -> AsyncClient:
    client = AsyncClient()
    force_login(client, alice)
    return client


def get(client: AsyncClient, url: str):
    return async_to_sync(client.get)(url)


@pytest.fixture
def thread_hops(monkeypatch) -> list[str]:
    """The functions of the app that are sent to a thread (sync_to_async)."""
    hops: list[str] = []
    original = SyncToAsync.__init__

    def recording(self, func, *args, **kwargs) -> None:
        module = getattr(func, "__module__", None) or ""
        if module.startswith("tokens_app"):
            hops.append(f"{module}.{getattr(func, '__qualname__', func)}")
        original(self, func, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__init__", recording)
    return hops


def _warm(client: AsyncClient, hops: list[str]) -> None:
    """Until the steady state: with Redis, the revocation check answers from
    this process's memory once client-side tracking is live (tracking.py)."""
    for _ in range(50):
        hops.clear()
        assert get(client, "/async/whoami/").status_code == 200
        if not hops:
            return
        time.sleep(0.1)
    raise AssertionError(f"never reached the steady state: {hops}")


def test_an_async_view_resolves_the_user_on_the_event_loop(client, thread_hops, django_assert_num_queries):
    _warm(client, thread_hops)

    with django_assert_num_queries(0):
        answers = [get(client, "/async/whoami/") for _ in range(3)]

    assert [a.json() for a in answers] == [{"authenticated": True, "username": "alice"}] * 3
    assert thread_hops == []


def test_an_anonymous_async_request_is_answered_on_the_event_loop_too(db, thread_hops):
    response = get(AsyncClient(), "/async/whoami/")

    assert response.json() == {"authenticated": False, "username": ""}
    assert thread_hops == []


def test_an_async_view_with_django_sessions_still_redeems_a_login_handoff(django_sessions, alice):
    django_sessions.ROOT_URLCONF = "tests.urls_clients"
    client = AsyncClient()
    client.force_login(alice)  # Django's own: leaves a handoff in the session

    response = get(client, "/async/whoami/")

    assert response.json() == {"authenticated": True, "username": "alice"}
    assert response.cookies[app_settings.ACCESS_COOKIE].value


def test_an_expired_access_token_is_refreshed_once_in_an_async_view(alice):
    signed_in = AsyncClient()
    pair = force_login(signed_in, alice)
    client = AsyncClient()
    client.cookies[app_settings.REFRESH_COOKIE] = pair.refresh.token

    response = get(client, "/async/whoami-twice/")

    assert response.json() == {"same": True, "username": "alice"}
    assert response.cookies[app_settings.ACCESS_COOKIE].value
    assert response.cookies[app_settings.REFRESH_COOKIE].value != pair.refresh.token
    assert LoginSession.objects.get().rotations == 1
    assert "no-store" in response["Cache-Control"]


def test_a_force_logout_reaches_an_async_view_at_once(settings, client, django_capture_on_commit_callbacks):
    settings.TOKENS_IMMEDIATE_REVOCATION = True
    assert get(client, "/async/whoami/").json()["authenticated"] is True

    with django_capture_on_commit_callbacks(execute=True):
        call_command("force_logout", "alice", stdout=io.StringIO())
    response = get(client, "/async/whoami/")

    assert response.json()["authenticated"] is False
    assert response.cookies[app_settings.ACCESS_COOKIE].value == ""
    assert response.cookies[app_settings.REFRESH_COOKIE].value == ""


def test_sync_views_under_the_asgi_handler_keep_working(client):
    response = get(client, "/api/auth/me/")

    assert response.status_code == 200, response.content
    assert response.json()["user"]["username"] == "alice"
