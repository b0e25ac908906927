"""The test helpers users get for their own suites (tokens_app.testing)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from tests.sessions_support import ACCESS, REFRESH, assert_refresh_accepted, refresh_cookie
from tokens_app.models import AuditEvent, LoginSession
from tokens_app.testing import force_login
from tokens_app.testing.pytest_plugin import TOKENS_USER_PASSWORD

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def test_force_login_signs_a_client_in_through_a_real_device_session(alice):
    client = Client()
    pair = force_login(client, alice)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Hello, alice" in response.content
    session = LoginSession.objects.get(user=alice)
    assert str(session.pk) == pair.access.claims.sid
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN, user=alice).count() == 1
    assert get_user_model().objects.get(pk=alice.pk).last_login is not None
    assert_refresh_accepted(refresh_cookie(client))


def test_force_login_sets_the_cookies_the_login_page_sets(alice):
    by_helper, by_form = Client(), Client()
    force_login(by_helper, alice)
    by_form.post(
        "/accounts/login/",
        {"username": "alice", "password": "correct horse battery staple", "remember": "on"},
    )
    for name in (ACCESS, REFRESH):
        helper_cookie, form_cookie = by_helper.cookies[name], by_form.cookies[name]
        for attribute in ("path", "domain", "secure", "httponly", "samesite"):
            assert helper_cookie[attribute] == form_cookie[attribute], (name, attribute)
        # The two sign-ins happen a moment apart: their remaining lives may
        # straddle a second.
        assert abs(int(helper_cookie["max-age"]) - int(form_cookie["max-age"])) <= 1, name


def test_force_login_names_the_device_it_signs_in(alice):
    force_login(Client(), alice, HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="203.0.113.7")
    session = LoginSession.objects.get(user=alice)
    assert "Firefox" in session.user_agent
    assert session.ip_address == "203.0.113.7"


def test_force_login_signs_a_drf_api_client_in(alice):
    client = APIClient()
    force_login(client, alice)
    response = client.get("/api/auth/me/")
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "alice"


def test_the_tokens_client_fixture_is_signed_in(tokens_client, tokens_user):
    assert tokens_client.get("/api/auth/me/").json()["user"]["username"] == tokens_user.get_username()


def test_the_tokens_user_can_also_sign_in_with_its_password(tokens_user):
    client = Client()
    response = client.post("/accounts/login/", {"username": "tokens-user", "password": TOKENS_USER_PASSWORD})
    assert response.status_code == 302


def test_the_tokens_admin_client_fixture_opens_the_admin(tokens_admin_client):
    assert tokens_admin_client.get("/admin/").status_code == 200


def test_the_tokens_api_client_fixture_is_signed_in(tokens_api_client):
    assert tokens_api_client.get("/api/auth/me/").json()["user"]["username"] == "tokens-user"
