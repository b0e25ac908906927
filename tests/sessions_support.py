"""Helpers for the tests of the ways a session ends and of device
sessions: cookies kept aside as a thief or an old tab would keep
them, and forms read from the pages the way a browser submits them."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from django.contrib.auth import get_user_model
from django.test import Client

from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tokens_app.tokens import Claims, verify_refresh

ACCESS, REFRESH = ACCESS_COOKIE, REFRESH_COOKIE


def refresh_cookie(client: Client) -> str:
    """The refresh token this browser holds right now."""
    value = client.cookies[REFRESH].value
    assert value, "the client holds no refresh token"
    return value


def refresh_claims(client: Client) -> Claims:
    return verify_refresh(refresh_cookie(client))


def browser_with(refresh: str) -> Client:
    """A browser whose access token has gone (expired) and that still holds ``refresh``."""
    client = Client()
    client.cookies[REFRESH] = refresh
    return client


def api_refresh(refresh: str):
    return browser_with(refresh).post("/api/auth/refresh/")


def assert_refresh_refused(refresh: str, code: str = "token_revoked") -> None:
    """The refresh token is refused on both surfaces: the API answers 401 JSON
    with ``code`` and clears the cookies; a page load redirects to the login page."""
    response = api_refresh(refresh)
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code
    assert response.cookies[REFRESH].value == ""

    page = browser_with(refresh).get("/")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")
    assert page.cookies[REFRESH].value == ""


def assert_refresh_accepted(refresh: str) -> str:
    """The API refresh succeeds; returns the new refresh token."""
    response = api_refresh(refresh)
    assert response.status_code == 200, response.content
    return response.cookies[REFRESH].value


def token_version(user) -> int:
    return get_user_model()._default_manager.values_list("token_version", flat=True).get(pk=user.pk)


def versions(*users) -> dict:
    return {user.username: token_version(user) for user in users}


_CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')


def without_csrf(body: bytes) -> bytes:
    return _CSRF_INPUT.sub(b'name="csrfmiddlewaretoken" value=""', body)


class _FormReader(HTMLParser):
    """Collects the fields a browser would submit from one form on a page."""

    def __init__(self, form_id: str | None) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name: str, value: str) -> None:
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (self.form_id is None or attrs.get("id") == self.form_id):
            self.inside = True
            return
        if not self.inside or "disabled" in attrs:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "file", "image"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self._add(name, attrs.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attrs:
            self._add(self._select, attrs.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self._add(name, "")

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_fields(html: bytes | str, form_id: str | None = None) -> dict[str, list[str]]:
    """What submitting the form (with id ``form_id``, else every form) would send."""
    reader = _FormReader(form_id)
    reader.feed(html.decode() if isinstance(html, bytes) else html)
    return reader.data


def csrf_token_from(html: bytes) -> str:
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1).decode()
