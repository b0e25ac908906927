"""CookieTokenAuthentication skips building a CSRF check for safe methods
(as CsrfViewMiddleware does); unsafe methods must still prove their origin."""

from __future__ import annotations

from django.test import Client

from tests.forge import ACCESS_COOKIE


def _enforcing_copy(client: Client) -> Client:
    enforcing = Client(enforce_csrf_checks=True)
    enforcing.cookies = client.cookies
    return enforcing


def test_an_api_read_with_the_cookie_needs_no_csrf_token(alice_client):
    response = _enforcing_copy(alice_client).get("/api/auth/me/")
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "alice"


def test_an_api_write_with_the_cookie_but_no_csrf_token_is_refused(alice_client, alice):
    version = alice.token_version
    response = _enforcing_copy(alice_client).post("/api/auth/logout-all/")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    alice.refresh_from_db()
    assert alice.token_version == version


def test_an_api_write_with_the_csrf_token_goes_through(alice_client, alice):
    client = _enforcing_copy(alice_client)
    token = client.get("/api/auth/csrf/").json()["csrfToken"]
    response = client.post("/api/auth/logout-all/", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.token_version == 1


def test_log_out_everywhere_from_the_site_ends_every_session(alice_client, alice):
    response = alice_client.post("/accounts/logout/all/")
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.token_version == 1
    assert alice_client.cookies[ACCESS_COOKIE].value == ""
