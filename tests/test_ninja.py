"""django-ninja (tokens_app/ninja.py): the same access cookie, CSRF on unsafe
methods, the same error codes and revocation, and the native apps' bearer
transport, for sync and async operations (tests/urls_clients.py)."""

from __future__ import annotations

import io

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.test import AsyncClient, Client
from rest_framework.test import APIClient

from tests import clients_support
from tests.clients_support import assert_error
from tests.conftest import PASSWORD
from tests.forge import claims, token
from tokens_app.conf import app_settings
from tokens_app.testing import force_login

pytestmark = pytest.mark.urls("tests.urls_clients")

SYNC, ASYNC = "/ninja/", "/ninja/async/"

committed = clients_support.committed  # the fixture, for this module's tests


@pytest.fixture(params=[SYNC, ASYNC], ids=["sync", "async"])
def base(request) -> str:
    return request.param


@pytest.fixture
def browser(alice) -> Client:
    client = Client(enforce_csrf_checks=True)
    force_login(client, alice)
    return client


@pytest.fixture
def app_access(alice) -> str:
    response = APIClient().post(
        "/api/auth/app/login/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    return response.json()["access"]


def test_the_access_cookie_authenticates_without_a_query(browser, alice, base, django_assert_num_queries):
    browser.get(f"{base}me")  # warm whatever the revocation check caches
    with django_assert_num_queries(0):
        response = browser.get(f"{base}me")

    assert response.status_code == 200, response.content
    assert response.json() == {"id": alice.pk, "username": "alice"}
    assert "no-store" in response["Cache-Control"]


def test_without_credentials_the_answer_is_401_not_authenticated(db, base):
    assert_error(Client().get(f"{base}me"), 401, "not_authenticated")


def test_an_expired_access_cookie_is_401_token_expired(alice, base):
    client = Client()
    client.cookies[app_settings.ACCESS_COOKIE] = token(claims(alice, lifetime=-60))

    assert_error(client.get(f"{base}me"), 401, "token_expired")


def test_a_forged_access_cookie_is_401_token_invalid(alice, base):
    client = Client()
    client.cookies[app_settings.ACCESS_COOKIE] = token(claims(alice), secret="not-our-secret" * 4)

    assert_error(client.get(f"{base}me"), 401, "token_invalid")


def test_an_unsafe_method_with_the_cookie_needs_the_csrf_token(browser, base):
    assert_error(browser.post(f"{base}notes"), 403, "permission_denied")

    browser.get("/api/auth/csrf/")
    csrf = browser.cookies["__Host-csrftoken"].value
    response = browser.post(f"{base}notes", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 200, response.content
    assert response.json()["added"] is True


def test_an_anonymous_unsafe_request_is_401_not_a_csrf_failure(db, base):
    assert_error(Client(enforce_csrf_checks=True).post(f"{base}notes"), 401, "not_authenticated")


def test_the_bearer_token_authenticates_with_no_csrf(app_access, base):
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"{base}notes", HTTP_AUTHORIZATION=f"Bearer {app_access}")

    assert response.status_code == 200, response.content
    assert response.json()["username"] == "alice"


def test_cookies_and_a_bearer_token_together_are_refused(browser, app_access, base):
    assert_error(
        browser.get(f"{base}me", HTTP_AUTHORIZATION=f"Bearer {app_access}"), 401, "mixed_credentials"
    )


@pytest.mark.parametrize("transport", ["cookie", "bearer"])
def test_a_force_logout_reaches_the_ninja_api_at_once(
    settings, browser, app_access, base, committed, transport
):
    settings.TOKENS_IMMEDIATE_REVOCATION = True
    client, extra = (
        (browser, {}) if transport == "cookie" else (Client(), {"HTTP_AUTHORIZATION": f"Bearer {app_access}"})
    )
    assert client.get(f"{base}me", **extra).status_code == 200

    committed(lambda: call_command("force_logout", "alice", stdout=io.StringIO()))

    assert_error(client.get(f"{base}me", **extra), 401, "token_revoked")


def test_without_immediate_revocation_loading_the_user_still_sees_the_force_logout(settings, browser):
    settings.TOKENS_IMMEDIATE_REVOCATION = False
    assert browser.get(f"{SYNC}staff").json() == {"is_staff": False}

    call_command("force_logout", "alice", stdout=io.StringIO())

    assert_error(browser.get(f"{SYNC}staff"), 401, "token_revoked")


def test_async_operations_authenticate_under_the_asgi_handler(alice, app_access):
    cookie_client = AsyncClient()
    force_login(cookie_client, alice)

    by_cookie = async_to_sync(cookie_client.get)(f"{ASYNC}me")
    by_bearer = async_to_sync(AsyncClient().get)(
        f"{ASYNC}me", headers={"Authorization": f"Bearer {app_access}"}
    )

    assert by_cookie.status_code == 200, by_cookie.content
    assert by_cookie.json()["username"] == "alice"
    assert by_bearer.status_code == 200, by_bearer.content
