"""Django's own ``login()`` ends in our cookies.

Whoever calls ``django.contrib.auth.login()`` (the stock admin login page,
auth's LoginView, DRF's browsable API, allauth) gets a device session and
our cookies on that response; ``logout()`` ends the device. Projects keep
``SessionMiddleware`` and ``request.session``; our tokens still decide who
is signed in.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.test import Client

from tests.conftest import PASSWORD
from tests.sessions_support import ACCESS, REFRESH, assert_refresh_refused, refresh_cookie
from tokens_app.models import AuditEvent, LoginSession

SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"


@pytest.fixture
def staff(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


def _has_our_cookies(response) -> bool:
    return bool(response.cookies.get(ACCESS) and response.cookies[ACCESS].value) and bool(
        response.cookies.get(REFRESH) and response.cookies[REFRESH].value
    )


def test_the_stock_admin_login_page_sets_our_cookies_and_opens_the_admin(django_sessions, staff):
    client = Client()
    response = client.post(
        "/stock-admin/login/", {"username": "root", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302, response.content
    assert response["Location"] == "/admin/"
    assert _has_our_cookies(response)
    assert LoginSession.objects.filter(user=staff).count() == 1
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN, user=staff).count() == 1
    assert client.get("/admin/").status_code == 200


def test_auth_login_view_sets_our_cookies_and_the_api_knows_the_user(django_sessions, alice):
    client = Client()
    response = client.post("/django-login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302, response.content
    assert _has_our_cookies(response)
    assert client.get("/api/auth/me/").json()["user"]["username"] == "alice"
    assert get_user_model().objects.get(pk=alice.pk).last_login is not None


def test_the_tokens_decide_who_is_signed_in_not_the_django_session(django_sessions, staff):
    client = Client()
    client.post("/stock-admin/login/", {"username": "root", "password": PASSWORD, "next": "/admin/"})
    assert client.cookies["sessionid"].value  # Django's session holds its own login...
    del client.cookies[ACCESS]
    del client.cookies[REFRESH]
    response = client.get("/admin/")  # ...which is not a way in
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_django_logout_ends_the_device_session_and_clears_our_cookies(django_sessions, alice):
    client = Client()
    client.post("/django-login/", {"username": "alice", "password": PASSWORD})
    refresh = refresh_cookie(client)
    response = client.post("/django-logout/")
    assert response.status_code == 302
    assert response.cookies[ACCESS].value == ""
    assert response.cookies[REFRESH].value == ""
    assert LoginSession.objects.get(user=alice).revoked_reason == "logout"
    assert_refresh_refused(refresh)


@pytest.mark.parametrize("with_django_sessions", [False, True])
def test_our_own_login_starts_exactly_one_device_session(settings, alice, with_django_sessions):
    if with_django_sessions:
        settings.MIDDLEWARE = [settings.MIDDLEWARE[0], SESSION_MIDDLEWARE, *settings.MIDDLEWARE[1:]]
        settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    client = Client()
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert LoginSession.objects.filter(user=alice).count() == 1
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN, user=alice).count() == 1
    assert get_user_model().objects.get(pk=alice.pk).last_login is not None


def test_messages_in_the_session_work_beside_the_tokens(django_sessions, alice):
    client = Client()
    client.post("/django-login/", {"username": "alice", "password": PASSWORD})
    response = client.post("/accounts/sessions/others/revoke/", follow=True)
    assert response.status_code == 200
    assert b"Logged out 0 other device(s)." in response.content


# --- the test client's own login() / force_login() / admin_client ------------------------------


def test_client_login_signs_the_client_in_on_its_next_request(django_sessions, alice):
    client = Client()
    assert client.login(username="alice", password=PASSWORD)
    response = client.get("/")
    assert response.status_code == 200
    assert b"Hello, alice" in response.content
    assert _has_our_cookies(response)
    assert client.get("/api/auth/me/").status_code == 200


def test_client_force_login_signs_the_client_in(django_sessions, alice):
    client = Client()
    client.force_login(alice)
    assert client.get("/api/auth/me/").json()["user"]["username"] == "alice"


def test_pytest_django_admin_client_opens_the_admin(django_sessions, admin_client):
    assert admin_client.get("/admin/").status_code == 200


def test_a_login_handoff_works_once(settings, django_sessions, alice):
    # Signed-cookie sessions can be replayed by whoever holds the cookie: the
    # handoff must still be good for one device session's first tokens only.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = Client()
    client.force_login(alice)
    handoff = client.cookies["sessionid"].value
    assert client.get("/").status_code == 200

    replay = Client()
    replay.cookies["sessionid"] = handoff
    response = replay.get("/")
    assert response.status_code == 302
    assert not _has_our_cookies(response)


def test_a_login_handoff_of_an_ended_session_is_refused(django_sessions, alice):
    client = Client()
    client.force_login(alice)
    LoginSession.objects.filter(user=alice).update(revoked_at="2000-01-01T00:00:00Z")
    response = client.get("/")
    assert response.status_code == 302
    assert not _has_our_cookies(response)


# --- checks: sessions are allowed; combinations that would fail are errors ---------------------


def _ids() -> set[str]:
    return {m.id for m in run_checks() if m.id and m.id.startswith("tokens_app.")}


def test_session_middleware_beside_ours_passes_every_check(django_sessions):
    assert _ids() == set()


def test_session_backed_messages_without_session_middleware_is_an_error(settings):
    for storage in ("session.SessionStorage", "fallback.FallbackStorage"):
        settings.MESSAGE_STORAGE = f"django.contrib.messages.storage.{storage}"
        assert "tokens_app.E011" in _ids()
    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
    assert "tokens_app.E011" not in _ids()


def test_database_sessions_without_the_sessions_app_is_an_error(django_sessions):
    django_sessions.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    assert "tokens_app.E012" in _ids()


def test_an_admin_changing_their_own_password_keeps_request_session(django_sessions, staff):
    # The admin's password view borrows request.session for a moment; with
    # SessionMiddleware the real session must be back for what follows, here
    # the success message kept in the session.
    django_sessions.MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
    client = Client()
    client.post("/stock-admin/login/", {"username": "root", "password": PASSWORD, "next": "/admin/"})
    new = "a new and rather long passphrase 42"
    response = client.post(
        f"/admin/tokens_app/user/{staff.pk}/password/",
        {"usable_password": "true", "password1": new, "password2": new},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Password changed successfully." in response.content
    assert LoginSession.objects.filter(user=staff, revoked_at__isnull=True).count() == 1  # this browser's
