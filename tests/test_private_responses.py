"""Issue 13, finding 12: an answer that depends on the auth cookies (it was
made for the signed-in user, or it sets or clears the cookies) is never kept
by a shared cache or the browser's back-forward cache: ``Cache-Control:
private, no-store`` and ``Vary: Cookie``, on every such URL, page or API."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.cache import get_max_age
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, login
from tokens_app.conf import app_settings
from tokens_app.models import LoginSession

# Every route of the site that answers from the auth cookies, with how to
# call it. `{user}` and `{session}` are filled in with the signed-in
# superuser's id and device session.
COOKIE_AUTHENTICATED = {
    "": [("get", "/")],
    "accounts/": [("get", "/accounts/")],
    "accounts/logout/": [("get", "/accounts/logout/")],
    "accounts/logout/all/": [("post", "/accounts/logout/all/")],
    "accounts/password_change/": [("get", "/accounts/password_change/")],
    "accounts/password_change/done/": [("get", "/accounts/password_change/done/")],
    "accounts/sessions/": [("get", "/accounts/sessions/")],
    "accounts/sessions/others/revoke/": [("post", "/accounts/sessions/others/revoke/")],
    "accounts/sessions/<uuid:session_id>/revoke/": [("post", "/accounts/sessions/{session}/revoke/")],
    "accounts/reauthenticate/": [("get", "/accounts/reauthenticate/"), ("post", "/accounts/reauthenticate/")],
    "accounts/logout/done/": [("get", "/accounts/logout/done/")],
    "api/auth/logout-others/": [("post", "/api/auth/logout-others/")],
    "api/auth/reauthenticate/": [("post", "/api/auth/reauthenticate/")],
    "api/auth/logout-all/": [("post", "/api/auth/logout-all/")],
    "api/auth/me/": [("get", "/api/auth/me/")],
    "api/auth/sessions/": [("get", "/api/auth/sessions/")],
    "api/auth/sessions/<uuid:session_id>/": [("delete", "/api/auth/sessions/{session}/")],
    # These act on the cookies themselves: they set or clear them.
    "accounts/login/": [("get", "/accounts/login/"), ("post", "/accounts/login/")],
    "accounts/logout/ (POST)": [("post", "/accounts/logout/")],
    "api/auth/login/": [("post", "/api/auth/login/")],
    "api/auth/refresh/": [("post", "/api/auth/refresh/")],
    "api/auth/logout/": [("post", "/api/auth/logout/")],
    "admin/logout/": [("post", "/admin/logout/")],
    # Native apps: never read the cookies, but their answers carry or act on
    # one user's tokens (in the body), so they are private all the same.
    "api/auth/app/login/": [("post", "/api/auth/app/login/")],
    "api/auth/app/refresh/": [("post", "/api/auth/app/refresh/")],
    "api/auth/app/logout/": [("post", "/api/auth/app/logout/")],
    "admin/password_change/": [("get", "/admin/password_change/")],
    # The admin, for a signed-in member of staff.
    "admin/": [
        ("get", "/admin/"),
        ("get", "/admin/tokens_app/"),
        ("get", "/admin/tokens_app/user/"),
        ("get", "/admin/tokens_app/user/{user}/change/"),
        ("get", "/admin/tokens_app/loginsession/"),
        ("get", "/admin/tokens_app/auditevent/"),
        ("get", "/admin/password_change/done/"),
        ("get", "/admin/jsi18n/"),
    ],
}

# Routes whose answer is the same for everyone: they never read the auth cookies.
COOKIE_INDEPENDENT = {
    "accounts/password_reset/",
    "accounts/password_reset/done/",
    "accounts/reset/<uidb64>/<token>/",  # no-store too, by never_cache (tests/test_reset_hardening.py)
    "accounts/reset/done/",
    "accounts/sessions/report/<str:token>/",  # the signed link is the credential, never the cookies
    "api/auth/csrf/",
    "api/schema/",
    "admin/login/",
    "healthz/",
    ".well-known/jwks.json",
}


def _routes(patterns, prefix: str = "") -> set[str]:
    found = set()
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route == "admin/":
                found.add(route)  # the admin's many URLs: sampled above
            else:
                found |= _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            found.add(route)
    return found


def test_every_route_is_known_to_depend_on_the_cookies_or_not():
    classified = {name.split(" ")[0] for name in COOKIE_AUTHENTICATED} | COOKIE_INDEPENDENT
    assert _routes(get_resolver("authproject.urls").url_patterns) == classified


def assert_private(response, what: str) -> None:
    cache_control = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    assert {"private", "no-store"} <= cache_control, (
        f"{what}: Cache-Control {response.get('Cache-Control')!r}"
    )
    assert "public" not in cache_control, what
    assert not get_max_age(response), what
    vary = {part.strip().lower() for part in response.get("Vary", "").split(",")}
    assert "cookie" in vary, f"{what}: Vary {response.get('Vary')!r}"


@pytest.fixture
def root(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


def _signed_in_root(client: Client) -> Client:
    assert login(client, "root").status_code == 302
    return client


CALLS = [(route, method, url) for route, calls in COOKIE_AUTHENTICATED.items() for method, url in calls]


@pytest.mark.parametrize(("route", "method", "url"), CALLS, ids=[f"{m} {u}" for _, m, u in CALLS])
def test_a_cookie_authenticated_answer_is_private_and_never_stored(root, route, method, url):
    client = _signed_in_root(APIClient() if url.startswith("/api/") else Client())
    session = LoginSession.objects.get(user=root)
    url = url.format(user=root.pk, session=session.pk)
    data = {"username": "root", "password": PASSWORD} if "login" in url else None
    response = getattr(client, method)(url, data, **({"format": "json"} if url.startswith("/api/") else {}))
    assert response.status_code < 500, response.content
    assert_private(response, f"{method.upper()} {url} ({response.status_code})")


@pytest.mark.parametrize("url", ["/", "/api/auth/me/"])
def test_an_answer_made_after_a_silent_or_refused_refresh_is_private(root, url):
    signed_in = _signed_in_root(Client())
    stale = Client()
    stale.cookies[app_settings.REFRESH_COOKIE] = signed_in.cookies[app_settings.REFRESH_COOKIE].value
    if url == "/":  # the silent refresh sets new cookies on this page
        response = stale.get(url)
        assert response.status_code == 200
        assert response.cookies[app_settings.ACCESS_COOKIE].value
        assert_private(response, url)
    forged = Client()
    forged.cookies[app_settings.ACCESS_COOKIE] = "not.a.token"
    assert_private(forged.get(url), f"{url} with a bad access cookie")


@pytest.mark.parametrize("url", ["/healthz/", "/api/schema/"])
def test_an_answer_that_ignores_the_cookies_is_left_cacheable(root, url):
    response = _signed_in_root(Client()).get(url)
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
