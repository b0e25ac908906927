"""A form posted after the session ended is kept server-side and sent again
after the sign-in, once its owner confirms (WCAG 2.2.5, re-authenticating
without loss of data).

Through HTTP only: a project's own ``login_required`` views (tests/urls_kept.py),
the login page, the confirmation page and the cache entry left behind.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.conftest import PASSWORD
from tokens_app import clock, flows, kept
from tokens_app.conf import app_settings

pytestmark = pytest.mark.urls("tests.urls_kept")

KEPT = "We kept what you submitted"


def csrf_token(client: Client) -> str:
    return client.cookies["__Host-csrftoken"].value


def signed_in(username: str = "alice", client: Client | None = None) -> Client:
    client = client or Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    response = client.post(
        "/accounts/login/",
        {
            "username": username,
            "password": PASSWORD,
            "remember": "on",
            "csrfmiddlewaretoken": csrf_token(client),
        },
    )
    assert response.status_code == 302, response.content
    return client


def sign_in(client: Client, username: str = "alice") -> str:
    """The login form, as the kept form's owner (or anyone) fills it in: where it leads."""
    page = client.get("/accounts/login/?next=/note/")
    assert page.status_code == 200
    response = client.post(
        "/accounts/login/?next=/note/",
        {
            "username": username,
            "password": PASSWORD,
            "next": "/note/",
            "csrfmiddlewaretoken": csrf_token(client),
        },
    )
    assert response.status_code == 302, response.content
    return response["Location"]


def end_sessions(browser: Client, user) -> None:
    """An administrator's force logout, met at the browser's next refresh: its
    access token has expired (the browser dropped it: its Max-Age passed)."""
    flows.force_logout([user])
    del browser.cookies[app_settings.ACCESS_COOKIE]


def post_note(client: Client, path: str = "/note/", **fields):
    return client.post(path, {"csrfmiddlewaretoken": csrf_token(client), **fields})


def hidden_fields(page: bytes) -> list[tuple[str, str]]:
    form = page.decode().split('action="/accounts/kept/"', 1)[1].split("</form>", 1)[0]
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)


def stored_entries() -> int:
    """How many kept forms the cache holds for the browsers of these tests."""
    return sum(1 for client_id in _ids if kept.cache.get(kept._key(client_id)) is not None)


_ids: list[str] = []


def kept_id(response) -> str:
    value = response.cookies[kept.cookie_name()].value
    _ids.append(value)
    return value


# The story -------------------------------------------------------------------------------


def test_a_form_posted_after_a_force_logout_arrives_after_signing_in_and_confirming(alice):
    browser = signed_in()
    end_sessions(browser, alice)

    turned_away = post_note(browser, message="my long reply", tags=["a", "b"])

    assert turned_away.status_code == 302
    assert turned_away["Location"].startswith("/accounts/login/?next=/note/")
    cookie = turned_away.cookies[kept.cookie_name()]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["secure"]
    assert "my long reply" not in cookie.value  # the data is server-side, the cookie names it
    assert int(cookie["max-age"]) == int(app_settings.KEPT_POST_TIMEOUT.total_seconds())
    assert KEPT in browser.get("/accounts/login/?next=/note/").content.decode()

    assert sign_in(browser) == "/accounts/kept/"
    page = browser.get("/accounts/kept/")
    assert page.status_code == 200
    assert KEPT in page.content.decode()
    assert "my long reply" in page.content.decode()

    fields = hidden_fields(page.content)
    sent = browser.post("/accounts/kept/", dict(_group(fields)), follow=True)

    assert sent.redirect_chain == [("/note/", 307)]
    assert json.loads(sent.content) == {
        "user": "alice",
        "fields": {"message": ["my long reply"], "tags": ["a", "b"]},
        "files": [],
    }
    # Sent once: nothing waits any more.
    assert browser.get("/accounts/kept/").status_code == 302
    assert kept.cookie_name() not in browser.cookies or browser.cookies[kept.cookie_name()].value == ""


def _group(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in fields:
        grouped.setdefault(name, []).append(value)
    return grouped


def test_the_resubmission_needs_a_fresh_csrf_token_at_both_steps(alice):
    browser = signed_in()
    before_login = csrf_token(browser)
    end_sessions(browser, alice)
    post_note(browser, message="hello")
    sign_in(browser)
    fields = _group(hidden_fields(browser.get("/accounts/kept/").content))

    refused = browser.post("/accounts/kept/", {**fields, "csrfmiddlewaretoken": "x" * 32})
    assert refused.status_code == 403
    # The token of before the sign-in is dead (rotated at login) on the target too.
    stale = browser.post("/note/", {**fields, "csrfmiddlewaretoken": before_login})
    assert stale.status_code == 403
    # Still waiting for a proper confirmation.
    assert browser.get("/accounts/kept/").status_code == 200


def test_another_user_signing_in_discards_it(alice, bob):
    browser = signed_in()
    end_sessions(browser, alice)
    entry_id = kept_id(post_note(browser, message="alice's draft"))

    assert sign_in(browser, "bob") == "/note/"  # bob goes where he asked, not to alice's form

    assert kept.cache.get(kept._key(entry_id)) is None
    assert browser.get("/accounts/kept/").status_code == 302
    assert "alice's draft" not in browser.get("/note/").content.decode()


def test_it_cannot_be_replayed_by_another_user_even_with_the_cookie(alice, bob):
    browser = signed_in()
    end_sessions(browser, alice)
    entry_id = kept_id(post_note(browser, message="alice's draft"))

    thief = signed_in("bob")
    thief.cookies[kept.cookie_name()] = entry_id
    assert thief.get("/accounts/kept/").status_code == 302
    assert thief.post("/accounts/kept/", {"csrfmiddlewaretoken": csrf_token(thief)}).status_code == 302
    assert kept.cache.get(kept._key(entry_id)) is not None  # alice's, still


def test_the_owner_can_discard_it(alice):
    browser = signed_in()
    end_sessions(browser, alice)
    entry_id = kept_id(post_note(browser, message="never mind"))
    sign_in(browser)

    response = browser.post("/accounts/kept/discard/", {"csrfmiddlewaretoken": csrf_token(browser)})

    assert response.status_code == 302
    assert kept.cache.get(kept._key(entry_id)) is None


# What is kept ----------------------------------------------------------------------------


def test_files_are_not_kept_and_the_user_is_told(alice):
    browser = signed_in()
    end_sessions(browser, alice)
    upload = SimpleUploadedFile("cv.pdf", b"%PDF-1.4 secret", content_type="application/pdf")

    post_note(browser, message="with a file", attachment=upload)
    assert "attached files were not kept" in browser.get("/accounts/login/").content.decode()
    sign_in(browser)
    page = browser.get("/accounts/kept/").content.decode()

    assert "with a file" in page
    assert "cv.pdf" not in page
    assert "PDF-1.4" not in page
    assert 'enctype="multipart/form-data"' in page
    fields = _group(hidden_fields(page.encode()))
    sent = browser.post("/accounts/kept/", fields, follow=True)
    assert json.loads(sent.content)["fields"] == {"message": ["with a file"]}
    assert json.loads(sent.content)["files"] == []


@pytest.mark.parametrize(
    ("path", "fields", "kept_names"),
    [
        # Any name containing "password", whatever its case.
        ("/note/", {"message": "m", "new_password": "p1", "PasswordConfirm": "p2"}, ["message"]),
        # Password inputs by another name, named by the page script on submit.
        ("/note/", {"message": "m", "pin": "1234", "_tokens_unkept": "pin"}, ["message"]),
        # The view's sensitive_post_parameters.
        ("/pin/", {"message": "m", "pin": "1234"}, ["message"]),
    ],
)
def test_password_like_fields_are_never_kept(alice, path, fields, kept_names):
    browser = signed_in()
    end_sessions(browser, alice)
    entry_id = kept_id(post_note(browser, path, **fields))

    entry = kept.cache.get(kept._key(entry_id))

    assert [name for name, _ in entry.fields] == kept_names
    assert all(value not in ("p1", "p2", "1234") for _, value in entry.fields)


def test_a_view_whose_every_parameter_is_sensitive_keeps_nothing(alice):
    browser = signed_in()
    end_sessions(browser, alice)

    response = post_note(browser, "/secret/", message="m")

    assert response.status_code == 302
    assert kept.cookie_name() not in response.cookies


def test_the_confirm_password_form_is_never_kept(alice):
    browser = signed_in()
    end_sessions(browser, alice)

    response = post_note(browser, "/accounts/reauthenticate/", password=PASSWORD, next="/accounts/sessions/")

    assert response["Location"].startswith("/accounts/login/")
    assert kept.cookie_name() not in response.cookies


def test_a_malformed_multipart_body_is_a_clean_4xx_and_keeps_nothing(alice):
    browser = signed_in()
    end_sessions(browser, alice)

    response = browser.post(
        "/note/", data=b"--x\r\nnot a part", content_type="multipart/form-data; boundary=x"
    )

    assert response.status_code == 403  # no CSRF token could be read from it
    assert kept.cookie_name() not in response.cookies


def test_an_oversized_form_is_not_kept_and_the_login_page_says_so(alice, settings):
    settings.TOKENS_KEPT_POST_MAX_BYTES = 100
    browser = signed_in()
    end_sessions(browser, alice)

    response = post_note(browser, message="x" * 101)

    assert response.cookies[kept.cookie_name()].value == kept.TOO_LARGE
    page = browser.get("/accounts/login/").content.decode()
    assert "could not be kept: it was too large" in page
    assert sign_in(browser) == "/note/"


def test_it_expires(alice, settings):
    settings.TOKENS_KEPT_POST_TIMEOUT = timedelta(seconds=1)
    browser = signed_in()
    end_sessions(browser, alice)
    post_note(browser, message="too late")

    time.sleep(1.5)

    assert sign_in(browser) == "/note/"
    assert KEPT not in browser.get("/accounts/login/").content.decode()


def test_one_per_browser_the_newer_replaces_the_older(alice):
    browser = signed_in()
    end_sessions(browser, alice)
    first = kept_id(post_note(browser, message="first"))
    second = kept_id(post_note(browser, message="second"))

    assert kept.cache.get(kept._key(first)) is None
    assert [value for _, value in kept.cache.get(kept._key(second)).fields] == ["second"]


class _DeadCache:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("cache down")

        return fail


def test_with_the_cache_down_nothing_is_kept_and_the_user_is_told(alice, monkeypatch):
    browser = signed_in()
    end_sessions(browser, alice)
    monkeypatch.setattr(kept, "cache", _DeadCache())

    response = post_note(browser, message="lost")

    assert response.status_code == 302
    assert response.cookies[kept.cookie_name()].value == kept.UNAVAILABLE
    page = browser.get("/accounts/login/")
    assert page.status_code == 200
    assert "could not be kept" in page.content.decode()
    assert sign_in(browser) == "/note/"


# When the session ended ------------------------------------------------------------------


def test_kept_after_the_maximum_lifetime_with_the_stale_cookies_still_sent(alice, monkeypatch):
    browser = signed_in()
    later = clock.now() + app_settings.SESSION_MAX_LIFETIME + timedelta(minutes=1)
    monkeypatch.setattr(clock, "now", lambda: later)

    response = post_note(browser, message="after 30 days")

    assert response.status_code == 302
    assert sign_in(browser) == "/accounts/kept/"


def test_kept_after_the_browser_dropped_the_expired_cookies_for_the_account_that_signed_in_here(alice):
    browser = signed_in()
    for name in (app_settings.ACCESS_COOKIE, app_settings.REFRESH_COOKIE):
        del browser.cookies[name]  # what a browser does once their Max-Age has passed
    entry_id = kept_id(post_note(browser, message="idle too long"))

    # The device cookie the sign-in left names alice's account (by a keyed hash).
    assert sign_in(browser) == "/accounts/kept/"
    assert kept.cache.get(kept._key(entry_id)).owner == str(alice.pk)


def test_the_device_cookie_does_not_let_another_account_replay_it(alice, bob):
    browser = signed_in()
    for name in (app_settings.ACCESS_COOKIE, app_settings.REFRESH_COOKIE):
        del browser.cookies[name]
    entry_id = kept_id(post_note(browser, message="idle too long"))

    assert sign_in(browser, "bob") == "/note/"
    assert kept.cache.get(kept._key(entry_id)) is None


def test_a_browser_that_never_signed_in_keeps_nothing(alice):
    stranger = Client(enforce_csrf_checks=True)
    stranger.get("/accounts/login/")

    response = post_note(stranger, message="who am I")

    assert response.status_code == 302
    assert kept.cookie_name() not in response.cookies


def test_a_signed_in_user_with_a_live_session_is_never_captured(alice):
    browser = signed_in()

    response = post_note(browser, message="normal")

    assert response.status_code == 200
    assert kept.cookie_name() not in response.cookies


def test_an_id_beginning_with_a_dash_is_an_id_like_any_other(alice, bob, monkeypatch):
    # base64url ids begin with "-" one time in 64; the markers must never look like one.
    monkeypatch.setattr(kept.secrets, "token_urlsafe", lambda n: "-" + "A" * 42)
    browser = signed_in()
    end_sessions(browser, alice)
    entry_id = kept_id(post_note(browser, message="dash"))

    assert "We kept what you submitted" in browser.get("/accounts/login/").content.decode()
    assert sign_in(browser, "bob") == "/note/"
    assert kept.cache.get(kept._key(entry_id)) is None
