"""Pages know when the session ends, from the verified refresh token and no
query, and "Stay signed in" extends an idle limit but never the maximum
lifetime (WCAG 2.2.1, timing adjustable). The script itself: tests/browser."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tokens_app import clock
from tokens_app.conf import app_settings
from tokens_app.tokens import verify_refresh


def body_of(response) -> dict[str, str]:
    tag = re.search(rb"<body([^>]*)>", response.content).group(1).decode()
    return dict(re.findall(r'data-tokens-([a-z-]+)(?:="([^"]*)")?', tag))


def signed_in(*, remember: bool = True) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    data = {
        "username": "alice",
        "password": PASSWORD,
        "csrfmiddlewaretoken": client.cookies["__Host-csrftoken"].value,
    }
    if remember:
        data["remember"] = "on"
    assert client.post("/accounts/login/", data).status_code == 302
    return client


def refresh_claims(client: Client):
    return verify_refresh(client.cookies[app_settings.REFRESH_COOKIE].value)


def test_a_signed_in_page_carries_the_idle_deadline_of_its_refresh_token_without_a_query(
    alice, django_assert_num_queries
):
    browser = signed_in()
    browser.get("/")
    with django_assert_num_queries(0):
        response = browser.get("/")

    data = body_of(response)
    assert data["user"] == "alice"
    assert int(data["ends"]) == refresh_claims(browser).exp
    assert abs(int(data["now"]) - clock.now().timestamp()) < 5
    assert data["warn"] == "120"
    assert "extendable" in data  # 14 days idle, 30 days at most: a refresh moves it
    assert 'id="tokens-session-notice" role="alert" hidden' in response.content.decode()
    assert "Stay signed in" in response.content.decode()


def test_near_the_maximum_lifetime_the_deadline_cannot_be_extended(alice, settings):
    settings.TOKENS_SESSION_MAX_LIFETIME = timedelta(hours=1)  # shorter than the idle limit
    browser = signed_in()

    response = browser.get("/")

    data = body_of(response)
    assert int(data["ends"]) == refresh_claims(browser).session_end
    assert "extendable" not in data
    assert "Stay signed in" not in response.content.decode()


def test_a_signed_out_page_names_no_user_and_no_deadline(db):
    data = body_of(Client().get("/accounts/login/"))

    assert data["user"] == ""
    assert "ends" not in data


def test_a_page_rendered_without_the_auth_context_does_not_claim_that_nobody_is_signed_in(alice):
    # Django's own CSRF failure view renders so: it must not tell the other tabs "signed out".
    from django.http import HttpResponse
    from django.template import loader

    bare = HttpResponse(loader.get_template("tokens_app/base.html").render({}))

    assert "known" not in body_of(bare)
    assert "known" in body_of(signed_in().get("/"))


def test_the_warning_time_is_a_setting(alice, settings):
    settings.TOKENS_SESSION_WARNING = timedelta(minutes=5)

    assert body_of(signed_in().get("/"))["warn"] == "300"


def test_stay_signed_in_moves_the_idle_deadline_back(alice, settings, monkeypatch):
    settings.TOKENS_REFRESH_LIFETIME = timedelta(minutes=10)  # a short idle limit
    browser = signed_in()
    before = refresh_claims(browser).exp
    later = clock.now() + timedelta(minutes=8)
    monkeypatch.setattr(clock, "now", lambda: later)

    response = browser.post(
        "/accounts/session/extend/",
        HTTP_ACCEPT="application/json",
        HTTP_X_CSRFTOKEN=browser.cookies["__Host-csrftoken"].value,
    )

    assert response.status_code == 200
    answer = response.json()
    assert answer["signed_in"] is True
    assert answer["ends"] == refresh_claims(browser).exp == int(later.timestamp()) + 600
    assert answer["ends"] > before + 8 * 60 - 5
    assert "no-store" in response["Cache-Control"]


def test_stay_signed_in_without_the_script_comes_back_to_the_page(alice):
    browser = signed_in()

    page = browser.get("/accounts/sessions/").content.decode()
    action = re.search(r'action="(/accounts/session/extend/[^"]*)"', page).group(1)

    response = browser.post(action, {"csrfmiddlewaretoken": browser.cookies["__Host-csrftoken"].value})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/sessions/"
    assert app_settings.ACCESS_COOKIE in response.cookies


def test_stay_signed_in_needs_the_csrf_token(alice):
    browser = signed_in()

    assert browser.post("/accounts/session/extend/", HTTP_ACCEPT="application/json").status_code == 403


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_stay_signed_in_after_the_session_ended_says_signed_out(alice, accept):
    browser = signed_in()
    token = browser.cookies["__Host-csrftoken"].value
    del browser.cookies[app_settings.REFRESH_COOKIE]

    response = browser.post("/accounts/session/extend/", HTTP_ACCEPT=accept, HTTP_X_CSRFTOKEN=token)

    if accept == "application/json":
        assert response.status_code == 401
        assert response.json() == {"signed_in": False}
    else:
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/"


def test_the_maximum_lifetime_is_never_extended(alice, settings, monkeypatch):
    settings.TOKENS_SESSION_MAX_LIFETIME = timedelta(hours=1)
    browser = signed_in()
    end = refresh_claims(browser).session_end
    later = clock.now() + timedelta(minutes=58)
    monkeypatch.setattr(clock, "now", lambda: later)

    response = browser.post(
        "/accounts/session/extend/",
        HTTP_ACCEPT="application/json",
        HTTP_X_CSRFTOKEN=browser.cookies["__Host-csrftoken"].value,
    )

    assert response.json()["ends"] == response.json()["session_end"] == end
