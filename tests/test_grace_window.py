"""The rotation grace window answers only the browser that rotated.

Within TOKENS_ROTATION_GRACE of a rotation the session's previous refresh
token is answered with the current one, so two tabs refreshing at once are
not taken for theft. A thief with copied cookies used to ride along in it:
polling /api/auth/sessions/ (last_used_at moves on each rotation) and
replaying in step, from anywhere, undetected. Now the rotating client's
fingerprint (network and User-Agent: what copied cookies do not carry) is
recorded, a retired token from any other client is reuse, and every grace
answer is audited.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import login
from tests.forge import ACCESS_COOKIE
from tests.sessions_support import REFRESH, assert_refresh_accepted, assert_refresh_refused, refresh_cookie
from tests.test_device_sessions import FIREFOX, statements
from tokens_app.models import AuditEvent, LoginSession
from tokens_app.tokens import verify_refresh

HOME = "203.0.113.7"  # the victim's network
ELSEWHERE = "198.51.100.9"  # the thief's


def browser(refresh: str | None = None, *, ip: str = HOME, user_agent: str = FIREFOX) -> Client:
    client = Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent)
    if refresh is not None:
        client.cookies[REFRESH] = refresh
    return client


@pytest.fixture
def victim(alice) -> Client:
    client = browser()
    assert login(client).status_code == 302
    return client


def rotate(client: Client) -> str:
    """The victim's browser refreshes; returns the token it just retired."""
    retired = refresh_cookie(client)
    assert client.post("/api/auth/refresh/").status_code == 200
    return retired


@pytest.mark.parametrize(
    ("ip", "user_agent"),
    [(ELSEWHERE, FIREFOX), (HOME, "curl/8.5.0"), (ELSEWHERE, "curl/8.5.0")],
    ids=["copied-user-agent-other-network", "same-network-other-client", "elsewhere"],
)
def test_thief_replaying_the_retired_token_within_the_grace_window_ends_the_session(
    alice, victim, reused_signals, ip, user_agent
):
    stolen = rotate(victim)  # the thief copied the cookie before this rotation
    current = refresh_cookie(victim)

    response = browser(stolen, ip=ip, user_agent=user_agent).post("/api/auth/refresh/")

    assert response.status_code == 401
    assert response.json()["code"] == "token_reused"
    assert response.cookies[REFRESH].value == ""
    session = LoginSession.objects.get(pk=verify_refresh(current).sid)
    assert session.revoked_reason == "refresh_reused"
    assert len(reused_signals) == 1
    assert reused_signals[0]["session"].pk == session.pk
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.REFRESH_REUSED)
    assert event.detail == {"session": str(session.pk), "jti": verify_refresh(stolen).jti}
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_GRACE).exists()
    # The thief got nothing to ride on, and the victim is told why.
    assert REFRESH not in response.cookies or response.cookies[REFRESH].value == ""
    assert_refresh_refused(current, code="token_reused")


def test_thief_polling_and_replaying_in_step_never_gets_the_current_token(alice, victim):
    for _ in range(3):
        stolen = rotate(victim)
        replay = browser(stolen, ip=ELSEWHERE).post("/api/auth/refresh/")
        assert replay.status_code == 401
        if replay.json()["code"] == "token_reused":
            break
    assert LoginSession.objects.get().revoked_reason == "refresh_reused"


def test_the_victim_is_told_why_on_its_next_page(alice, victim):
    stolen = rotate(victim)
    browser(stolen, ip=ELSEWHERE).post("/api/auth/refresh/")
    del victim.cookies[ACCESS_COOKIE]  # its access token expires

    response = victim.get("/", follow=True)

    assert response.redirect_chain[0][0].startswith("/accounts/login/")
    assert "used from somewhere else" in " ".join(str(m) for m in response.context["messages"])


def test_another_tab_of_the_same_browser_is_answered_and_audited(alice, victim, reused_signals):
    retired = rotate(victim)  # the first tab rotated; the second still holds the old token

    second_tab = browser(retired).post("/api/auth/refresh/")

    assert second_tab.status_code == 200
    session = LoginSession.objects.get()
    assert verify_refresh(second_tab.cookies[REFRESH].value).jti == session.current_jti
    assert session.revoked_at is None
    assert reused_signals == []
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.REFRESH_GRACE)
    assert event.user == alice
    assert event.ip_address == HOME
    assert event.detail == {"session": str(session.pk), "jti": verify_refresh(retired).jti}
    assert_refresh_accepted(second_tab.cookies[REFRESH].value)


def test_a_browser_whose_address_moves_within_its_network_keeps_the_grace(alice, victim):
    # Carrier networks hand a client neighbouring addresses: the /24 counts.
    retired = rotate(victim)
    assert browser(retired, ip="203.0.113.200").post("/api/auth/refresh/").status_code == 200


def test_the_grace_answer_stays_within_the_refresh_budget(alice, victim):
    retired = rotate(victim)
    with CaptureQueriesContext(connection) as captured:
        response = browser(retired).post("/api/auth/refresh/")
    assert response.status_code == 200
    sql = statements(captured)
    assert len(sql) <= 3, sql
    # The locked read of the session and the audit row.
    assert [s.split()[0] for s in sql] == ["SELECT", "INSERT"]
