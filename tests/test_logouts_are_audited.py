"""A logout is a security event in the audit trail.

Logging out from the page or the API (and ``django.contrib.auth.logout()``,
which ends the device the same way) records a ``logout`` event naming the
user, the device session and the client's address, besides the row that
says the session ended. A logout that ends nothing (no session, or one
already ended) records nothing.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import login
from tests.sessions_support import refresh_claims
from tokens_app.models import AuditEvent

HOME = "203.0.113.7"


@pytest.fixture
def browser(alice) -> Client:
    client = Client(REMOTE_ADDR=HOME)
    assert login(client).status_code == 302
    return client


def logouts() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGOUT))


@pytest.mark.parametrize("url", ["/accounts/logout/", "/api/auth/logout/"], ids=["page", "api"])
def test_logging_out_records_a_logout_event(alice, browser, url):
    session_id = refresh_claims(browser).sid

    assert browser.post(url).status_code in (200, 302)

    [event] = logouts()
    assert event.user == alice
    assert event.reason == "logout"
    assert event.ip_address == HOME
    assert event.detail == {"session": session_id}
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.SESSION_REVOKED, reason="logout").count() == 1


def test_a_second_logout_of_an_ended_session_records_nothing_more(browser):
    cookies = {name: morsel.value for name, morsel in browser.cookies.items()}
    browser.post("/accounts/logout/")
    again = Client(REMOTE_ADDR=HOME)
    for name, value in cookies.items():
        again.cookies[name] = value

    again.post("/api/auth/logout/")

    assert len(logouts()) == 1


def test_a_logout_without_a_session_records_nothing(alice):
    assert Client().post("/api/auth/logout/").status_code == 200
    assert logouts() == []
