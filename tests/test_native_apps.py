"""Native apps (tokens_app/bearer.py, api_app.py): an app that keeps no cookies
signs in through the API, receives its tokens in the body, sends
``Authorization: Bearer <access>`` and refreshes with the refresh token in the
body. Same device sessions, rotation, reuse detection, limits and revocation
as the browser; no CSRF; a request never mixes the two transports."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from tests import clients_support
from tests.clients_support import assert_error
from tests.conftest import PASSWORD, login
from tokens_app.conf import app_settings
from tokens_app.models import LoginSession
from tokens_app.tokens import verify_access, verify_refresh

APP_UA = "NotesApp/2.1 (Android 14; Pixel 8) okhttp/4.12"

committed = clients_support.committed  # the fixture, for this module's tests


def app_login(client: APIClient | None = None, username: str = "alice", **data):
    client = client or APIClient(enforce_csrf_checks=True)
    body = {"username": username, "password": PASSWORD, **data}
    return client.post("/api/auth/app/login/", body, format="json", HTTP_USER_AGENT=APP_UA)


def app_refresh(refresh: str, client: APIClient | None = None, **extra):
    client = client or APIClient(enforce_csrf_checks=True)
    return client.post(
        "/api/auth/app/refresh/", {"refresh": refresh}, format="json", HTTP_USER_AGENT=APP_UA, **extra
    )


def bearer(access: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


@pytest.fixture
def tokens(alice) -> dict:
    response = app_login(device="Notes on Pixel 8")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def immediate(settings):
    settings.TOKENS_IMMEDIATE_REVOCATION = True


def test_an_app_signs_in_and_gets_both_tokens_in_the_body_and_no_cookie(alice):
    response = app_login()

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    access, refresh = verify_access(body["access"]), verify_refresh(body["refresh"])
    assert access.sid == refresh.sid
    assert body["user"] == {
        "id": alice.pk,
        "username": "alice",
        "email": "alice@example.com",
        "first_name": "",
        "last_name": "",
    }
    assert access.expires_at.isoformat() == body["access_expires"]
    assert refresh.expires_at.isoformat() == body["refresh_expires"]
    assert app_settings.ACCESS_COOKIE not in response.cookies
    assert app_settings.REFRESH_COOKIE not in response.cookies
    # The tokens are one user's: no cache may keep them.
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_the_app_session_is_listed_on_the_devices_page_as_an_app(alice, tokens):
    session = LoginSession.objects.get(pk=verify_access(tokens["access"]).sid)
    assert session.user_agent == "Notes on Pixel 8 (app)"
    assert session.persistent  # an app's session is remembered

    browser = Client()
    assert login(browser).status_code == 302
    page = browser.get("/accounts/sessions/")
    assert "Notes on Pixel 8 (app)" in page.content.decode()


def test_an_app_that_names_no_device_is_listed_by_its_user_agent(alice):
    sid = verify_access(app_login().json()["access"]).sid
    assert LoginSession.objects.get(pk=sid).user_agent.endswith(" (app)")
    assert LoginSession.objects.get(pk=sid).user_agent == "Android (app)"


def test_the_bearer_token_authenticates_the_api_without_csrf(alice, tokens):
    client = APIClient(enforce_csrf_checks=True)

    me = client.get("/api/auth/me/", **bearer(tokens["access"]))
    assert me.status_code == 200, me.content
    assert me.json()["user"]["username"] == "alice"
    assert "no-store" in me["Cache-Control"]
    sessions = client.get("/api/auth/sessions/", **bearer(tokens["access"]))
    assert [s["device"] for s in sessions.json()] == ["Notes on Pixel 8 (app)"]
    assert sessions.json()[0]["current"] is True
    # An unsafe method, no CSRF token: fine, nothing ambient is involved.
    assert client.post("/api/auth/app/logout/", **bearer(tokens["access"])).status_code == 200


def test_an_app_confirms_its_password_by_signing_in_again(alice, tokens):
    client = APIClient(enforce_csrf_checks=True)
    response = client.post(
        "/api/auth/reauthenticate/", {"password": PASSWORD}, format="json", **bearer(tokens["access"])
    )

    assert_error(response, 403, "app_sign_in_required")
    assert app_settings.ACCESS_COOKIE not in response.cookies
    again = app_login().json()
    assert verify_access(again["access"]).auth_time >= verify_access(tokens["access"]).auth_time


def test_refresh_rotates_the_token_sent_in_the_body(alice, tokens):
    response = app_refresh(tokens["refresh"])

    assert response.status_code == 200, response.content
    new = response.json()
    assert new["refresh"] != tokens["refresh"]
    assert verify_refresh(new["refresh"]).sid == verify_refresh(tokens["refresh"]).sid
    assert app_settings.REFRESH_COOKIE not in response.cookies
    session = LoginSession.objects.get(pk=verify_refresh(new["refresh"]).sid)
    assert session.rotations == 1
    assert session.current_jti == verify_refresh(new["refresh"]).jti


def test_a_retired_refresh_token_sent_again_ends_the_app_session(alice, tokens, settings):
    settings.TOKENS_ROTATION_GRACE = timedelta(0)
    new = app_refresh(tokens["refresh"]).json()

    assert_error(app_refresh(tokens["refresh"]), 401, "token_reused")

    session = LoginSession.objects.get(pk=verify_refresh(new["refresh"]).sid)
    assert session.revoked_reason == "refresh_reused"
    assert_error(app_refresh(new["refresh"]), 401, "token_reused")


def test_refused_refreshes_are_limited_per_client_as_the_browsers_are(alice, tokens, settings):
    settings.TOKENS_REFRESH_IP_RATE = (2, timedelta(minutes=1))
    settings.TOKENS_ROTATION_GRACE = timedelta(0)
    app_refresh(tokens["refresh"])
    assert_error(app_refresh(tokens["refresh"]), 401, "token_reused")
    assert_error(app_refresh(tokens["refresh"]), 401, "token_reused")

    response = app_refresh(tokens["refresh"])

    assert response.status_code == 429
    assert response["Retry-After"]


def test_junk_refresh_tokens_are_refused_and_not_counted(alice, tokens, settings):
    settings.TOKENS_REFRESH_IP_RATE = (1, timedelta(minutes=1))
    for _ in range(3):
        assert_error(app_refresh("not.a.token"), 401, "token_invalid")

    assert app_refresh(tokens["refresh"]).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid"),
        ({"refresh": ""}, 400, "invalid"),
        ({"refresh": ["a"]}, 400, "invalid"),
        ({"refresh": "x" * 9000}, 400, "invalid"),
        ({"refresh": 5}, 401, "token_invalid"),
        ({"refresh": "a\x00b"}, 400, "invalid"),
    ],
)
def test_a_bad_refresh_body_is_a_clean_4xx(db, body, status, code):
    assert_error(APIClient().post("/api/auth/app/refresh/", body, format="json"), status, code)


def test_wrong_credentials_are_a_401_and_bad_input_a_400(alice):
    assert_error(app_login(password="wrong"), 401, "invalid_credentials")
    assert_error(
        APIClient().post("/api/auth/app/login/", {"username": "alice"}, format="json"), 400, "invalid"
    )
    assert_error(app_login(device="x" * 101), 400, "invalid")


def test_app_logins_are_limited_like_the_browsers(alice, settings):
    settings.TOKENS_LOGIN_CLIENT_RATE = (2, timedelta(minutes=5))
    for _ in range(2):
        assert_error(app_login(password="wrong"), 401, "invalid_credentials")

    assert app_login().status_code == 429


@pytest.mark.usefixtures("immediate")
def test_a_force_logout_reaches_the_app_at_once(alice, tokens, committed):
    client = APIClient()
    assert client.get("/api/auth/me/", **bearer(tokens["access"])).status_code == 200

    committed(lambda: call_command("force_logout", "alice", stdout=io.StringIO()))

    assert_error(client.get("/api/auth/me/", **bearer(tokens["access"])), 401, "token_revoked")
    assert_error(app_refresh(tokens["refresh"]), 401, "token_revoked")


def test_logging_out_ends_the_session_and_its_refresh_token(alice, tokens):
    response = APIClient().post("/api/auth/app/logout/", **bearer(tokens["access"]))

    assert response.status_code == 200
    session = LoginSession.objects.get(pk=verify_access(tokens["access"]).sid)
    assert session.revoked_at is not None
    assert_error(app_refresh(tokens["refresh"]), 401, "token_revoked")


def test_a_browser_session_ended_from_the_app_cannot_manage_the_account_afterwards(alice, tokens):
    client = APIClient()
    client.post("/api/auth/app/logout/", **bearer(tokens["access"]))

    # The access token is still validly signed, but the session is over.
    assert_error(client.get("/api/auth/sessions/", **bearer(tokens["access"])), 401, "token_revoked")


# --- One request, one transport -------------------------------------------


@pytest.fixture
def browser(alice) -> APIClient:
    client = APIClient()
    assert (
        client.post(
            "/api/auth/login/", {"username": "alice", "password": PASSWORD}, format="json"
        ).status_code
        == 200
    )
    return client


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/auth/me/"),
        ("get", "/api/auth/sessions/"),
        ("post", "/api/auth/logout-others/"),
        ("post", "/api/auth/app/logout/"),
        ("post", "/api/auth/app/refresh/"),
        ("post", "/api/auth/app/login/"),
    ],
)
def test_a_request_with_both_cookies_and_a_bearer_token_is_refused(browser, tokens, method, url):
    response = getattr(browser, method)(url, {}, format="json", **bearer(tokens["access"]))

    assert_error(response, 401, "mixed_credentials")
    assert LoginSession.objects.filter(revoked_at__isnull=True).count() == 2  # nothing was ended


def test_the_cookie_endpoints_read_only_the_cookies(browser, tokens):
    refreshed = browser.post("/api/auth/refresh/", **bearer(tokens["access"]))

    assert refreshed.status_code == 200, refreshed.content
    assert refreshed.cookies[app_settings.ACCESS_COOKIE].value
    cookie_sid = verify_access(refreshed.cookies[app_settings.ACCESS_COOKIE].value).sid
    assert cookie_sid != verify_access(tokens["access"]).sid
    assert LoginSession.objects.get(pk=cookie_sid).rotations == 1
    assert LoginSession.objects.get(pk=verify_access(tokens["access"]).sid).rotations == 0


def test_a_browsers_cookies_never_authenticate_a_bearer_endpoint(browser):
    response = browser.post("/api/auth/app/logout/")

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert LoginSession.objects.get().revoked_at is None


def test_a_bearer_token_never_authenticates_a_page(alice, tokens):
    response = Client().get("/", **bearer(tokens["access"]))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_bearer_token_never_refreshes_through_the_cookie_endpoint(alice, tokens):
    response = APIClient().post("/api/auth/refresh/", **bearer(tokens["refresh"]))

    assert response.status_code == 401
    assert LoginSession.objects.get().rotations == 0


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b", "bearer not.a.token"])
def test_a_malformed_bearer_header_is_a_401(db, header):
    assert_error(APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION=header), 401, "token_invalid")


def test_another_authorization_scheme_is_not_ours(db):
    response = APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION="Basic YWxpY2U6cHc=")

    assert_error(response, 401, "not_authenticated")


def test_a_refresh_token_is_no_bearer_access_token(alice, tokens):
    assert_error(APIClient().get("/api/auth/me/", **bearer(tokens["refresh"])), 401, "token_invalid")
