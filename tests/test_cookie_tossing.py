"""Cookie tossing from a sibling subdomain (a security review's finding).

A page on evil.example.com can set ``access_token=<the attacker's token>;
Domain=example.com`` and the victim's browser sends it to www.example.com
beside our own; Django keeps the last duplicate, so the victim silently works
inside the attacker's account, and "log out" cannot remove it. In production
(Secure cookies) the names carry the ``__Host-`` prefix, which browsers let
only this host set (Secure, Path=/, no Domain); where a prefix cannot be
used (a cookie Domain, a narrowed refresh path) or names are configured
without it, a check warns; and a request carrying two auth cookies of one
name is treated as signed out.
"""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, login
from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tokens_app.checks import MESSAGES

HOST_ACCESS, HOST_REFRESH = ACCESS_COOKIE, REFRESH_COOKIE


def _ids() -> set[str]:
    return {message.id for message in run_checks()}


def _tokens_of(username: str) -> tuple[str, str]:
    client = APIClient()
    response = client.post("/api/auth/login/", {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    names = [name for name in response.cookies if name.endswith("access_token")]
    access = names[0]
    refresh = access.replace("access_token", "refresh_token")
    return response.cookies[access].value, response.cookies[refresh].value


# --- the names, in production and in development ------------------------------------------------


def test_production_cookies_carry_the_host_prefix_and_its_attributes(alice):
    response = login(Client())

    for name in (HOST_ACCESS, HOST_REFRESH):
        morsel = response.cookies[name]
        assert morsel["secure"] is True
        assert morsel["path"] == "/"
        assert morsel["domain"] == ""
    assert "access_token" not in response.cookies
    assert "refresh_token" not in response.cookies


def test_production_csrf_cookie_carries_the_host_prefix(db):
    response = Client().get("/api/auth/csrf/")

    morsel = response.cookies["__Host-csrftoken"]
    assert morsel.value  # the secret; the page gets a masked copy of it
    assert morsel["secure"] is True
    assert morsel["path"] == "/"
    assert morsel["domain"] == ""


def test_api_clients_send_the_prefixed_csrf_cookie_back(alice):
    client = APIClient(enforce_csrf_checks=True)
    token = client.get("/api/auth/csrf/").json()["csrfToken"]
    response = client.post(
        "/api/auth/login/", {"username": "alice", "password": PASSWORD}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200


def test_development_over_http_keeps_the_plain_names(alice, settings):
    settings.DEBUG = True  # cookies not Secure: browsers would refuse __Host- ones
    client = Client()
    response = login(client)

    assert {"access_token", "refresh_token"} <= set(response.cookies)
    assert HOST_ACCESS not in response.cookies
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("overrides", "access", "refresh"),
    [
        ({"TOKENS_COOKIE_DOMAIN": "example.com"}, "access_token", "refresh_token"),
        ({"TOKENS_REFRESH_COOKIE_PATH": "/api/auth/"}, HOST_ACCESS, "refresh_token"),
    ],
    ids=["cookie-domain", "narrowed-refresh-path"],
)
def test_where_the_prefix_cannot_be_used_the_default_name_has_none(
    alice, settings, overrides, access, refresh
):
    for name, value in overrides.items():
        setattr(settings, name, value)
    response = login(Client())
    assert {access, refresh} <= set(response.cookies)
    assert "tokens_app.W030" in _ids()


# --- the checks -------------------------------------------------------------------------------------


def test_the_production_defaults_need_no_cookie_warning():
    assert not {"tokens_app.W030", "tokens_app.E030"} & _ids()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("TOKENS_ACCESS_COOKIE", "access_token"),
        ("TOKENS_REFRESH_COOKIE", "refresh"),
        ("CSRF_COOKIE_NAME", "csrftoken"),
    ],
)
def test_production_cookie_names_without_the_prefix_are_a_warning(settings, setting, value):
    setattr(settings, setting, value)
    messages = [m for m in run_checks() if m.id == "tokens_app.W030"]
    assert len(messages) == 1
    assert repr(value) in messages[0].msg
    assert setting in messages[0].hint or "__Host-" in messages[0].hint


def test_unprefixed_names_while_debugging_are_no_warning(settings):
    settings.DEBUG = True
    settings.TOKENS_ACCESS_COOKIE = "access_token"
    assert "tokens_app.W030" not in _ids()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"TOKENS_COOKIE_SECURE": False}, "TOKENS_COOKIE_SECURE is off"),
        ({"TOKENS_COOKIE_DOMAIN": "example.com"}, "TOKENS_COOKIE_DOMAIN is set"),
        ({"TOKENS_REFRESH_COOKIE_PATH": "/api/auth/"}, "TOKENS_REFRESH_COOKIE_PATH is '/api/auth/'"),
    ],
)
def test_a_host_prefix_the_browser_would_refuse_is_an_error(settings, overrides, reason):
    settings.TOKENS_ACCESS_COOKIE, settings.TOKENS_REFRESH_COOKIE = HOST_ACCESS, HOST_REFRESH
    for name, value in overrides.items():
        setattr(settings, name, value)
    messages = [m for m in run_checks() if m.id == "tokens_app.E030"]
    assert messages
    assert any(reason in m.msg for m in messages)
    assert MESSAGES["E030"][0].split("{")[0] in messages[0].msg


def test_a_csrf_host_prefix_with_a_cookie_domain_is_an_error(settings):
    settings.CSRF_COOKIE_DOMAIN = "example.com"
    messages = [m for m in run_checks() if m.id == "tokens_app.E030"]
    assert len(messages) == 1
    assert "CSRF_COOKIE_DOMAIN is set" in messages[0].msg


# --- two cookies of one name ------------------------------------------------------------------------


@pytest.fixture(params=["production", "development"])
def mode(request, settings) -> tuple[str, str]:
    """The auth cookie names of each mode; in development (plain names) a
    sibling subdomain can really plant them."""
    if request.param == "development":
        settings.DEBUG = True
        return "access_token", "refresh_token"
    return HOST_ACCESS, HOST_REFRESH


def test_a_tossed_access_cookie_beside_the_victims_is_signed_out_not_the_attackers_account(alice, bob, mode):
    access, refresh = mode
    victim_access, victim_refresh = _tokens_of("alice")
    attacker_access, _ = _tokens_of("bob")  # planted for the parent domain by a sibling
    # Browsers send the more specific cookie first: the victim's, then the planted one,
    # and Django keeps the last.
    header = f"{access}={victim_access}; {refresh}={victim_refresh}; {access}={attacker_access}"

    page = Client().get("/", HTTP_COOKIE=header, follow=True)
    api = APIClient().get("/api/auth/me/", HTTP_COOKIE=header)

    assert page.redirect_chain[0][0] == "/accounts/login/?next=/"
    assert b"Hello, bob" not in page.content
    assert "two sign-in cookies" in " ".join(str(m) for m in page.context["messages"])
    assert api.status_code == 401
    assert "bob" not in api.content.decode()


@pytest.mark.parametrize(
    ("method", "where"),
    [
        ("get", "/"),
        ("get", "/api/auth/me/"),
        ("get", "/accounts/login/"),
        ("post", "/api/auth/refresh/"),
        ("post", "/api/auth/logout/"),
        ("post", "/accounts/logout/"),
    ],
)
def test_duplicated_auth_cookies_are_not_cleared_so_the_planted_one_never_stands_alone(
    alice, bob, mode, method, where
):
    # Only our host-only cookie could be deleted; the planted one (Domain=
    # the parent) would then be the only one sent, and be honoured.
    access, refresh = mode
    alice_access, alice_refresh = _tokens_of("alice")
    bob_access, bob_refresh = _tokens_of("bob")
    header = f"{refresh}={alice_refresh}; {refresh}={bob_refresh}; {access}={alice_access}"
    client = APIClient() if where.startswith("/api/") else Client()

    response = getattr(client, method)(where, HTTP_COOKIE=header)

    assert response.status_code in (200, 302, 401)
    assert access not in response.cookies
    assert refresh not in response.cookies
    assert "Cookie" in response.get("Vary", "")


def test_a_tossed_refresh_cookie_does_not_refresh_into_the_attackers_account(alice, bob, mode):
    access, refresh = mode
    _, victim_refresh = _tokens_of("alice")
    _, attacker_refresh = _tokens_of("bob")
    header = f"{refresh}={victim_refresh}; {refresh}={attacker_refresh}"

    response = APIClient().post("/api/auth/refresh/", HTTP_COOKIE=header)

    assert response.status_code == 401
    assert access not in response.cookies
    assert "bob" not in response.content.decode()


def test_one_cookie_of_each_name_is_still_signed_in(alice, mode):
    access, refresh = mode
    alice_access, alice_refresh = _tokens_of("alice")
    header = f"{access}={alice_access}; {refresh}={alice_refresh}; unrelated_access_token=1"

    assert Client().get("/", HTTP_COOKIE=header).status_code == 200
