"""Run inside each freshly adopted project (tests/adoption/run.py copies it there):
what a new user checks first, through the public surface only."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from tokens_app.conf import app_settings

PASSWORD = "correct horse battery staple"


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", email="alice@example.com", password=PASSWORD)


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", email="root@example.com", password=PASSWORD)


def _form_login(client: Client, username: str, **extra) -> None:
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD, **extra})
    assert response.status_code == 302, response.content
    assert {app_settings.ACCESS_COOKIE, app_settings.REFRESH_COOKIE} <= set(response.cookies)


def test_the_login_form_signs_in_with_cookies_and_opens_the_account_page(client, alice):
    assert client.get("/accounts/").status_code == 302  # login_required
    assert b"Sign in" in client.get("/accounts/login/").content
    _form_login(client, "alice")
    page = client.get("/accounts/")
    assert page.status_code == 200
    assert b"Hello, alice" in page.content
    assert b"tokens_app/tokens_app.css" in page.content


def test_the_api_logs_in_and_refresh_rotates_the_refresh_cookie(alice):
    client = Client(enforce_csrf_checks=True)
    csrf = client.get("/api/auth/csrf/").json()["csrfToken"]
    login = client.post(
        "/api/auth/login/",
        {"username": "alice", "password": PASSWORD},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert login.status_code == 200, login.content
    first = login.cookies[app_settings.REFRESH_COOKIE].value
    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value  # rotated by the login, as Django's login() does
    refreshed = client.post("/api/auth/refresh/", HTTP_X_CSRFTOKEN=csrf)
    assert refreshed.status_code == 200, refreshed.content
    assert refreshed.cookies[app_settings.REFRESH_COOKIE].value != first
    assert client.get("/api/auth/me/").json()["user"]["username"] == "alice"


def test_the_admins_force_logout_ends_the_users_sessions(alice, root):
    victim = Client()
    _form_login(victim, "alice")
    staff = Client()
    # Django's own admin login page: its login() ends in our cookies.
    assert staff.get("/admin/").status_code == 302
    assert staff.get("/admin/login/?next=/admin/").status_code == 200
    signed_in = staff.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})
    assert signed_in.status_code == 302
    assert {app_settings.ACCESS_COOKIE, app_settings.REFRESH_COOKIE} <= set(signed_in.cookies)
    assert staff.get("/admin/").status_code == 200
    opts = get_user_model()._meta
    change = staff.get(f"/admin/{opts.app_label}/{opts.model_name}/{alice.pk}/change/")
    assert change.status_code == 200
    assert b"Force logout" in change.content
    forced = staff.post(f"/admin/{opts.app_label}/{opts.model_name}/{alice.pk}/force-logout/")
    assert forced.status_code == 302
    assert forced["Location"] == f"/admin/{opts.app_label}/{opts.model_name}/{alice.pk}/change/"

    del victim.cookies[app_settings.ACCESS_COOKIE]  # as after five minutes: the browser must refresh
    refused = victim.post("/api/auth/refresh/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "token_revoked"
    assert victim.get("/accounts/").status_code == 302  # back to the login page


def test_djangos_client_login_signs_in_with_session_middleware(client, alice):
    assert client.login(username="alice", password=PASSWORD)
    assert b"Hello, alice" in client.get("/accounts/").content
