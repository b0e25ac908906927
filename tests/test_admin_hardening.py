"""The admin: its own "Change password" link goes through our password-change
flow, a malformed id answers 404 (not 500), and no page lets staff read or
probe refresh-token ids."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import login
from tests.sessions_support import (
    assert_refresh_accepted,
    assert_refresh_refused,
    refresh_cookie,
    token_version,
)
from tokens_app.conf import app_settings
from tokens_app.models import AuditEvent, LoginSession

NEW_PASSWORD = "a new and rather long passphrase 42"


@pytest.fixture
def root(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


def signed_in(username: str) -> Client:
    client = Client()
    assert login(client, username).status_code == 302
    return client


@pytest.fixture
def admin_client(root) -> Client:
    return signed_in("root")


# --- the admin's own "Change password" link ----------------------------


def test_the_admins_own_change_password_link_keeps_this_browser_and_logs_out_the_others(
    root, admin_client, bob, django_capture_on_commit_callbacks
):
    elsewhere = refresh_cookie(signed_in("root"))
    bob_elsewhere = refresh_cookie(signed_in("bob"))
    old_here = refresh_cookie(admin_client)
    before = token_version(root)
    page = admin_client.get("/admin/password_change/")
    assert page.status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/password_change/",
            {
                "old_password": "correct horse battery staple",
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
        )

    assert response.status_code == 302, response.content
    assert response["Location"] == "/admin/password_change/done/"
    assert token_version(root) == before + 1
    fresh_here = refresh_cookie(admin_client)
    assert fresh_here != old_here
    assert admin_client.get("/admin/password_change/done/").status_code == 200
    assert admin_client.get("/admin/").status_code == 200
    assert_refresh_accepted(fresh_here)
    assert_refresh_refused(old_here)
    assert_refresh_refused(elsewhere)
    assert_refresh_accepted(bob_elsewhere)
    assert (
        Client().post("/accounts/login/", {"username": "root", "password": NEW_PASSWORD}).status_code == 302
    )


def test_the_admins_own_change_password_link_needs_the_old_password_and_csrf(root):
    browser = Client(enforce_csrf_checks=True)
    login_page = browser.get("/accounts/login/")
    token = login_page.cookies[settings.CSRF_COOKIE_NAME].value
    browser.post(
        "/accounts/login/",
        {"username": "root", "password": "correct horse battery staple", "csrfmiddlewaretoken": token},
    )
    form = {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    assert browser.post("/admin/password_change/", form).status_code == 403  # no CSRF token
    page = browser.post(
        "/admin/password_change/",
        {**form, "csrfmiddlewaretoken": browser.cookies[settings.CSRF_COOKIE_NAME].value},
    )
    assert page.status_code == 200
    assert "old_password" in page.context["form"].errors
    assert token_version(root) == 0


def test_the_admins_change_password_link_sends_a_signed_out_visitor_to_the_login_page(db):
    response = Client().get("/admin/password_change/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# --- a malformed id in the force-logout URL ----------------------------


@pytest.mark.parametrize("object_id", ["abc", "1.5", "%20", "9999999999999999999999"])
def test_force_logout_of_a_malformed_or_unknown_user_id_answers_404(admin_client, object_id):
    response = admin_client.post(f"/admin/tokens_app/user/{object_id}/force-logout/")
    assert response.status_code == 404


# --- refresh-token ids are not exposed in the admin --------------------


@pytest.fixture
def alice_session(alice) -> LoginSession:
    login(Client(), "alice")
    return LoginSession.objects.get(user=alice)


@pytest.mark.parametrize("field", ["current_jti", "previous_jti"])
@pytest.mark.parametrize("lookup", ["", "__startswith", "__istartswith", "__contains", "__gte", "__regex"])
def test_staff_cannot_probe_a_refresh_token_id_by_prefix_in_the_sessions_list(
    admin_client, alice_session, field, lookup
):
    alice_session.previous_jti = "f" * 32
    alice_session.save()
    prefix = getattr(alice_session, field)[:2]
    listed = admin_client.get("/admin/tokens_app/loginsession/", {f"{field}{lookup}": prefix})
    # Django answers a refused lookup with 400; before, the list was filtered
    # (one row for the right prefix, none for a wrong one): an oracle.
    assert listed.status_code == 400


@pytest.mark.parametrize(
    ("url", "lookup"),
    [
        ("/admin/tokens_app/user/", "login_sessions__current_jti__startswith"),
        ("/admin/tokens_app/auditevent/", "detail__jti__startswith"),
        ("/admin/tokens_app/auditevent/", "user__login_sessions__current_jti__startswith"),
    ],
)
def test_staff_cannot_probe_a_refresh_token_id_through_related_lists(
    admin_client, alice_session, url, lookup
):
    assert admin_client.get(url, {lookup: alice_session.current_jti[:2]}).status_code == 400


def test_the_sessions_search_does_not_match_refresh_token_ids(admin_client, alice_session):
    listed = admin_client.get("/admin/tokens_app/loginsession/", {"q": alice_session.current_jti})
    assert listed.status_code == 200
    assert list(listed.context["cl"].result_list) == []


def test_no_admin_page_shows_a_refresh_token_id(admin_client, alice, alice_session, settings):
    # A replayed token leaves its jti in the audit trail's detail.
    settings.TOKENS_ROTATION_GRACE = timedelta(0)
    thief = Client()
    first = refresh_cookie(signed_in("alice"))
    thief.cookies[app_settings.REFRESH_COOKIE] = first
    assert thief.post("/api/auth/refresh/").status_code == 200
    stale = Client()
    stale.cookies[app_settings.REFRESH_COOKIE] = first
    assert stale.post("/api/auth/refresh/").json()["code"] == "token_reused"
    reused = AuditEvent.objects.get(kind=AuditEvent.Kind.REFRESH_REUSED)
    secrets = {reused.detail["jti"]}
    for session in LoginSession.objects.all():
        secrets |= {session.current_jti, session.previous_jti} - {""}
    pages = [
        "/admin/tokens_app/loginsession/",
        f"/admin/tokens_app/loginsession/{alice_session.pk}/change/",
        f"/admin/tokens_app/user/{alice.pk}/change/",
        "/admin/tokens_app/auditevent/",
        f"/admin/tokens_app/auditevent/{reused.pk}/change/",
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert not [jti for jti in secrets if jti in body], url
    # What a reviewer needs of that event is still there.
    detail_page = admin_client.get(f"/admin/tokens_app/auditevent/{reused.pk}/change/").content.decode()
    assert str(reused.detail["session"]) in detail_page
