"""The JSON API under /api/auth/: cookies, expiry times, stable error codes, CSRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from tests.conftest import PASSWORD
from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tokens_app.models import LoginSession
from tokens_app.tokens import issue_access, issue_refresh, verify_access, verify_refresh

ACCESS, REFRESH = ACCESS_COOKIE, REFRESH_COOKIE


def api_login(client: APIClient, username: str = "alice", password: str = PASSWORD, **extra):
    return client.post(
        "/api/auth/login/", {"username": username, "password": password}, format="json", **extra
    )


def csrf_api_client() -> tuple[APIClient, str]:
    """A client that enforces CSRF like a browser's session would, and its token."""
    client = APIClient(enforce_csrf_checks=True)
    response = client.get("/api/auth/csrf/")
    assert response.status_code == 200
    assert response.json()["csrfToken"]
    return client, client.cookies["__Host-csrftoken"].value


def csrf_api_login(client: APIClient, token: str) -> str:
    """Log in with the CSRF token; return the token to use from now on (login rotates it)."""
    assert api_login(client, HTTP_X_CSRFTOKEN=token).status_code == 200
    return client.cookies["__Host-csrftoken"].value


@pytest.fixture
def api(alice) -> APIClient:
    client = APIClient()
    assert api_login(client).status_code == 200
    return client


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]


def assert_cleared(response) -> None:
    for name in (ACCESS, REFRESH):
        morsel = response.cookies[name]
        assert morsel.value == ""
        assert morsel["max-age"] == 0
        # Deleted with the attributes they were set with, or the browser keeps them.
        assert (morsel["path"], morsel["domain"], morsel["samesite"]) == ("/", "", "Lax")
        assert morsel["secure"] is True
        assert morsel["httponly"] is True


def close_to(iso: str, expected: datetime) -> bool:
    return abs(datetime.fromisoformat(iso) - expected) <= timedelta(seconds=5)


# Login -------------------------------------------------------------------------------------


def test_login_returns_the_user_and_expiry_times_and_sets_both_cookies(alice):
    response = api_login(APIClient())

    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {
        "id": alice.pk,
        "username": "alice",
        "email": "alice@example.com",
        "first_name": "",
        "last_name": "",
    }
    now = datetime.now(UTC)
    assert close_to(body["access_expires"], now + timedelta(minutes=5))
    assert close_to(body["refresh_expires"], now + timedelta(days=14))

    access, refresh = response.cookies[ACCESS], response.cookies[REFRESH]
    assert verify_access(access.value).expires_at == datetime.fromisoformat(body["access_expires"])
    assert verify_refresh(refresh.value).expires_at == datetime.fromisoformat(body["refresh_expires"])
    for morsel in (access, refresh):
        assert morsel["httponly"] is True
        assert morsel["secure"] is True
        assert morsel["samesite"] == "Lax"
        assert morsel["path"] == "/"
    # Tokens travel only in HttpOnly cookies, never where page scripts can read them.
    assert access.value.encode() not in response.content
    assert refresh.value.encode() not in response.content


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong"), ("nobody", PASSWORD)])
def test_bad_credentials_answer_401_invalid_credentials_without_cookies(alice, username, password):
    response = api_login(APIClient(), username, password)
    assert_error(response, 401, "invalid_credentials")
    assert response["WWW-Authenticate"]
    assert ACCESS not in response.cookies
    assert not LoginSession.objects.exists()


def test_deactivated_user_cannot_log_in_through_the_api(alice):
    alice.is_active = False
    alice.save()
    assert_error(api_login(APIClient()), 401, "invalid_credentials")


def test_login_without_csrf_token_is_refused(alice):
    client = APIClient(enforce_csrf_checks=True)
    response = api_login(client)
    assert_error(response, 403, "permission_denied")
    assert "CSRF" in response.json()["detail"]
    assert ACCESS not in response.cookies


def test_login_with_the_csrf_token_from_the_csrf_endpoint_succeeds(alice):
    client, token = csrf_api_client()
    response = api_login(client, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert ACCESS in response.cookies


def test_login_with_a_wrong_csrf_token_is_refused(alice):
    client, _ = csrf_api_client()
    assert_error(api_login(client, HTTP_X_CSRFTOKEN="x" * 32), 403, "permission_denied")


def test_login_rotates_the_csrf_token_like_django_login_does(alice, django_user_model):
    # A csrftoken planted before login (say, by a sibling subdomain) must not
    # be good for the signed-in session.
    client, planted = csrf_api_client()

    response = api_login(client, HTTP_X_CSRFTOKEN=planted)

    fresh = response.cookies["__Host-csrftoken"].value
    assert fresh
    assert fresh != planted
    assert_error(client.post("/api/auth/logout-all/", HTTP_X_CSRFTOKEN=planted), 403, "permission_denied")
    assert client.post("/api/auth/logout-all/", HTTP_X_CSRFTOKEN=fresh).status_code == 200


def test_csrf_endpoint_sets_the_csrftoken_cookie_readable_by_scripts(db):
    response = APIClient().get("/api/auth/csrf/")
    assert response.status_code == 200
    cookie = response.cookies["__Host-csrftoken"]
    assert cookie.value
    assert cookie["httponly"] == ""  # a browser client reads it to fill X-CSRFToken


# Refresh --------------------------------------------------------------------------------------


def test_refresh_rotates_both_cookies(api):
    old_access, old_refresh = api.cookies[ACCESS].value, api.cookies[REFRESH].value

    response = api.post("/api/auth/refresh/")

    assert response.status_code == 200
    body = response.json()
    assert body["user"]["username"] == "alice"
    new_access, new_refresh = response.cookies[ACCESS].value, response.cookies[REFRESH].value
    assert new_access != old_access
    assert new_refresh != old_refresh
    assert verify_access(new_access).expires_at == datetime.fromisoformat(body["access_expires"])
    assert LoginSession.objects.get().rotations == 1
    assert api.get("/api/auth/me/").status_code == 200


def test_refresh_answers_the_user_as_me_does_and_records_the_rotation(api, alice):
    alice.first_name, alice.last_name = "Alice", "Liddell"
    alice.save()
    session = LoginSession.objects.get()
    old_jti = verify_refresh(api.cookies[REFRESH].value).jti

    response = api.post("/api/auth/refresh/")

    assert response.status_code == 200
    assert response.json()["user"] == api.get("/api/auth/me/").json()["user"]
    rotated = LoginSession.objects.get()
    assert rotated.previous_jti == old_jti
    assert rotated.current_jti == verify_refresh(response.cookies[REFRESH].value).jti
    assert rotated.rotated_at == rotated.last_used_at
    assert rotated.last_used_at > session.last_used_at
    assert rotated.expires_at > session.expires_at


@pytest.mark.parametrize("cookie", [None, "", "garbage", "a.b.c"])
def test_refresh_without_a_usable_cookie_answers_401_token_invalid_and_clears_cookies(db, cookie):
    client = APIClient()
    if cookie is not None:
        client.cookies[REFRESH] = cookie
    response = client.post("/api/auth/refresh/")
    assert_error(response, 401, "token_invalid")
    assert response["WWW-Authenticate"]
    assert_cleared(response)


def test_refresh_with_an_expired_refresh_token_answers_token_expired(api, alice):
    sid = verify_refresh(api.cookies[REFRESH].value).sid
    api.cookies[REFRESH] = issue_refresh(
        alice, session_id=sid, now=datetime.now(UTC) - timedelta(days=15)
    ).token
    assert_error(api.post("/api/auth/refresh/"), 401, "token_expired")


def test_refresh_with_an_access_token_in_the_refresh_cookie_is_refused(api):
    api.cookies[REFRESH] = api.cookies[ACCESS].value
    assert_error(api.post("/api/auth/refresh/"), 401, "token_invalid")


def test_refresh_after_the_user_deactivated_is_refused(api, alice):
    alice.is_active = False
    alice.save()
    response = api.post("/api/auth/refresh/")
    assert_error(response, 401, "user_inactive")
    assert_cleared(response)


def test_refresh_without_csrf_token_is_refused(alice):
    client, token = csrf_api_client()
    token = csrf_api_login(client, token)

    assert_error(client.post("/api/auth/refresh/"), 403, "permission_denied")
    assert LoginSession.objects.get().rotations == 0
    assert client.post("/api/auth/refresh/", HTTP_X_CSRFTOKEN=token).status_code == 200


# Logout --------------------------------------------------------------------------------------------


def test_logout_clears_cookies_and_the_old_refresh_token_is_revoked(api):
    old_refresh = api.cookies[REFRESH].value

    response = api.post("/api/auth/logout/")

    assert response.status_code == 200
    assert_cleared(response)
    assert LoginSession.objects.get().revoked_at is not None
    api.cookies[REFRESH] = old_refresh
    assert_error(api.post("/api/auth/refresh/"), 401, "token_revoked")


def test_logout_without_csrf_token_is_refused(alice):
    client, token = csrf_api_client()
    csrf_api_login(client, token)
    assert_error(client.post("/api/auth/logout/"), 403, "permission_denied")
    assert LoginSession.objects.get().revoked_at is None


# me/ -----------------------------------------------------------------------------------------------


def test_me_returns_the_signed_in_user(api, alice):
    response = api.get("/api/auth/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == alice.pk
    assert body["user"]["username"] == "alice"
    assert (
        datetime.fromisoformat(body["access_expires"]) == verify_access(api.cookies[ACCESS].value).expires_at
    )


def test_me_without_cookie_answers_401(db):
    response = APIClient().get("/api/auth/me/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"]


def test_me_with_an_expired_access_token_answers_token_expired(api, alice):
    sid = verify_refresh(api.cookies[REFRESH].value).sid
    api.cookies[ACCESS] = issue_access(
        alice, session_id=sid, now=datetime.now(UTC) - timedelta(minutes=10)
    ).token
    response = api.get("/api/auth/me/")
    assert_error(response, 401, "token_expired")
    # The API does not refresh silently: the client calls refresh/ and retries.
    assert ACCESS not in response.cookies


def test_me_sees_a_password_change_at_once_because_it_loads_the_user(api, alice):
    alice.set_password("another passphrase 9")
    alice.save()
    assert_error(api.get("/api/auth/me/"), 401, "token_revoked")


# CSRF on authenticated unsafe requests -------------------------------------------------------------


def test_unsafe_authenticated_request_without_csrf_token_is_refused(alice, django_user_model):
    client, token = csrf_api_client()
    csrf_api_login(client, token)

    response = client.post("/api/auth/logout-all/")

    assert_error(response, 403, "permission_denied")
    assert django_user_model.objects.get(pk=alice.pk).token_version == 0
    assert ACCESS not in response.cookies


def test_unsafe_authenticated_request_with_csrf_token_is_honoured(alice, django_user_model):
    client, token = csrf_api_client()
    token = csrf_api_login(client, token)

    response = client.post("/api/auth/logout-all/", HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 200
    assert django_user_model.objects.get(pk=alice.pk).token_version == 1
    assert_cleared(response)


def test_deleting_a_session_without_csrf_token_is_refused(alice):
    client, token = csrf_api_client()
    csrf_api_login(client, token)
    session = LoginSession.objects.get()
    assert_error(client.delete(f"/api/auth/sessions/{session.pk}/"), 403, "permission_denied")
    session.refresh_from_db()
    assert session.revoked_at is None


def test_safe_authenticated_request_needs_no_csrf_token(alice):
    client, token = csrf_api_client()
    csrf_api_login(client, token)
    assert client.get("/api/auth/me/").status_code == 200
