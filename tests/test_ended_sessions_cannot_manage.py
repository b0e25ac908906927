"""A device whose session
has ended keeps a signed access token for up to ACCESS_TOKEN_EXPIRY, and with
immediate revocation off (or a cache that has not heard yet) that token still
reads pages. It must not manage the account: the devices page and API, "log
out other devices / everywhere", one device's logout and the password change
check the session in the database, whatever the immediate-revocation setting.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from tests import conftest
from tests.conftest import PASSWORD
from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tests.sessions_support import refresh_claims
from tokens_app.models import LoginSession

NEW_PASSWORD = "a thief's new passphrase 1234"


def signed_in(user_agent: str) -> Client:
    return conftest.signed_in(user_agent=user_agent)


def session_of(client: Client) -> LoginSession:
    return LoginSession.objects.get(pk=refresh_claims(client).sid)


def _device_logged_out(alice, old: Client) -> Client:
    """Alice logs the old device out from her new one."""
    new = signed_in("new laptop")
    assert new.delete(f"/api/auth/sessions/{session_of(old).pk}/").status_code == 204
    return new


def _force_logout_then_new_login(alice, old: Client) -> Client:
    call_command("force_logout", "alice", stdout=io.StringIO())
    return signed_in("new laptop")


def _password_changed_elsewhere(alice, old: Client) -> Client:
    new = signed_in("new laptop")
    response = new.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": "x" + NEW_PASSWORD, "new_password2": "x" + NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content
    return new


ENDINGS = pytest.mark.parametrize(
    "end", [_device_logged_out, _force_logout_then_new_login, _password_changed_elsewhere]
)


@pytest.fixture(params=[False, True], ids=["no-immediate-revocation", "immediate-revocation"])
def old_and_new(request, alice, settings):
    """The old device, whose session has just ended, and alice's live device.

    The end is never written through to the cache (the test's transaction
    does not commit): the old access token is as good as it will ever be."""
    settings.TOKENS_IMMEDIATE_REVOCATION = request.param
    old = signed_in("old phone")
    assert old.get("/accounts/sessions/").status_code == 200
    return old


def _assert_new_device_untouched(new: Client) -> None:
    session = session_of(new)
    assert session.revoked_at is None
    assert new.get("/accounts/sessions/").status_code == 200


def _assert_sent_to_login(response, page: str) -> None:
    assert response.status_code == 302, response.content
    assert response["Location"].startswith("/accounts/login/")


@ENDINGS
def test_ended_session_cannot_list_the_users_new_devices(alice, old_and_new, end):
    old = old_and_new
    new = end(alice, old)

    api = old.get("/api/auth/sessions/")
    page = old.get("/accounts/sessions/")  # signs the browser out: last

    _assert_sent_to_login(page, "/accounts/sessions/")
    assert b"new laptop" not in page.content
    assert api.status_code == 401
    assert api.json()["code"] == "token_revoked"
    _assert_new_device_untouched(new)


@ENDINGS
def test_ended_session_cannot_log_out_the_other_devices(alice, old_and_new, end):
    old = old_and_new
    new = end(alice, old)

    response = old.post("/accounts/sessions/others/revoke/")

    _assert_sent_to_login(response, "/accounts/sessions/others/revoke/")
    _assert_new_device_untouched(new)


@ENDINGS
def test_ended_session_cannot_log_out_one_new_device(alice, old_and_new, end):
    old = old_and_new
    new = end(alice, old)
    target = session_of(new).pk

    api = old.delete(f"/api/auth/sessions/{target}/")
    page = old.post(f"/accounts/sessions/{target}/revoke/")

    _assert_sent_to_login(page, "")
    assert api.status_code == 401
    assert api.json()["code"] == "token_revoked"
    _assert_new_device_untouched(new)


@ENDINGS
def test_ended_session_cannot_log_out_everywhere(alice, old_and_new, end):
    old = old_and_new
    new = end(alice, old)

    api = old.post("/api/auth/logout-all/")
    page = old.post("/accounts/logout/all/")

    _assert_sent_to_login(page, "/accounts/logout/all/")
    assert api.status_code == 401
    assert api.json()["code"] == "token_revoked"
    _assert_new_device_untouched(new)


@ENDINGS
def test_ended_session_cannot_change_the_password(alice, old_and_new, end):
    old = old_and_new
    new = end(alice, old)
    alice.refresh_from_db()
    hash_before = alice.password

    response = old.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    _assert_sent_to_login(response, "/accounts/password_change/")
    alice.refresh_from_db()
    assert alice.password == hash_before
    _assert_new_device_untouched(new)


@pytest.mark.parametrize("page", ["/accounts/sessions/", "/accounts/password_change/"])
def test_ended_session_is_signed_out_with_its_cookies_cleared(alice, old_and_new, page):
    old = old_and_new
    _device_logged_out(alice, old)

    response = old.get(page)

    _assert_sent_to_login(response, page)
    assert response.cookies[ACCESS_COOKIE].value == ""
    assert response.cookies[REFRESH_COOKIE].value == ""
    assert old.get("/accounts/login/").status_code == 200


def test_live_session_still_manages_its_devices(alice, old_and_new):
    here = old_and_new
    other = signed_in("new laptop")

    assert here.get("/accounts/sessions/").status_code == 200
    assert here.get("/api/auth/sessions/").status_code == 200
    assert here.post("/accounts/sessions/others/revoke/").status_code == 302
    assert session_of(other).revoked_at is not None
    assert session_of(here).revoked_at is None
