"""A refresh whose answer never arrived costs the client nothing.

A phone sends its refresh token, the server rotates, and the answer is lost
(a tunnel, a dropped connection): the phone still holds the token it sent,
now the session's previous one. It may retry with it, seconds or minutes
later, and is answered with the session's current token, as long as that
successor has never come back to a refresh, the retry comes from the client
that rotated (network and User-Agent), and within TOKENS_LOST_RESPONSE_WINDOW
(15 minutes) of the rotation. Once the successor has been used, the old
token coming back is reuse, as before; a thief from another client is never
answered. Time moves with an injected clock (tokens_app/clock.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import login
from tests.sessions_support import ACCESS, REFRESH, assert_refresh_refused, refresh_cookie
from tests.test_device_sessions import FIREFOX, statements
from tokens_app.models import AuditEvent, LoginSession
from tokens_app.tokens import verify_refresh

PHONE = "203.0.113.7"
ELSEWHERE = "198.51.100.9"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("tokens_app.clock.now", lambda: clock.now)
    return clock


def client_with(refresh: str, *, ip: str = PHONE, user_agent: str = FIREFOX) -> Client:
    """A client holding only ``refresh`` (its access token has expired)."""
    client = Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent)
    client.cookies[REFRESH] = refresh
    return client


@pytest.fixture
def phone(alice, clock: Clock) -> Client:
    client = Client(REMOTE_ADDR=PHONE, HTTP_USER_AGENT=FIREFOX)
    assert login(client).status_code == 302
    return client


def refresh_and_lose_the_answer(client: Client) -> str:
    """The client refreshes; the server rotates, the answer never arrives.
    Returns the token the client still holds (the one it sent)."""
    sent = refresh_cookie(client)
    assert client_with(sent).post("/api/auth/refresh/").status_code == 200
    return sent


def current_jti() -> str:
    return LoginSession.objects.get().current_jti


@pytest.mark.parametrize(
    "delay", [{"seconds": 1}, {"seconds": 30}, {"minutes": 10}], ids=["1s", "30s", "10min"]
)
def test_a_lost_refresh_answer_retried_later_keeps_the_session(phone, clock, reused_signals, delay):
    held = refresh_and_lose_the_answer(phone)
    clock.advance(**delay)

    retry = client_with(held).post("/api/auth/refresh/")

    assert retry.status_code == 200, retry.content
    answered = retry.cookies[REFRESH].value
    session = LoginSession.objects.get()
    # Handed the successor it never received: no second branch of the chain.
    assert verify_refresh(answered).jti == session.current_jti
    assert session.revoked_at is None
    assert session.rotations == 1
    assert reused_signals == []
    # And the client goes on: the answer refreshes, the chain moves on.
    clock.advance(minutes=5)
    assert client_with(answered).post("/api/auth/refresh/").status_code == 200
    assert LoginSession.objects.get().rotations == 2


def test_a_retry_after_the_grace_window_is_audited_as_a_lost_response(alice, phone, clock):
    held = refresh_and_lose_the_answer(phone)
    clock.advance(minutes=3)

    assert client_with(held).post("/api/auth/refresh/").status_code == 200

    event = AuditEvent.objects.get(kind=AuditEvent.Kind.REFRESH_GRACE)
    assert event.user == alice
    assert event.reason == "lost_response"
    assert event.ip_address == PHONE
    assert event.detail == {"session": str(LoginSession.objects.get().pk), "jti": verify_refresh(held).jti}


def test_a_retry_whose_answer_is_lost_too_can_be_retried_again(phone, clock):
    held = refresh_and_lose_the_answer(phone)
    clock.advance(minutes=2)
    assert client_with(held).post("/api/auth/refresh/").status_code == 200  # lost as well
    clock.advance(minutes=5)

    retry = client_with(held).post("/api/auth/refresh/")

    assert retry.status_code == 200
    assert verify_refresh(retry.cookies[REFRESH].value).jti == current_jti()


def test_a_page_load_after_a_lost_answer_stays_signed_in(phone, clock):
    held = refresh_and_lose_the_answer(phone)
    clock.advance(minutes=4)

    page = client_with(held).get("/")

    assert page.status_code == 200
    assert verify_refresh(page.cookies[REFRESH].value).jti == current_jti()
    assert page.cookies[ACCESS].value


def test_the_old_token_after_its_successor_was_used_is_reuse(alice, phone, clock, reused_signals):
    # The answer did arrive: the client used the new pair's refresh token.
    old = refresh_cookie(phone)
    assert phone.post("/api/auth/refresh/").status_code == 200
    clock.advance(minutes=5)
    assert phone.post("/api/auth/refresh/").status_code == 200
    clock.advance(minutes=1)

    response = client_with(old).post("/api/auth/refresh/")  # from the very same client, even

    assert response.status_code == 401
    assert response.json()["code"] == "token_reused"
    session = LoginSession.objects.get()
    assert session.revoked_reason == "refresh_reused"
    assert len(reused_signals) == 1
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.REFRESH_REUSED)
    assert event.detail == {"session": str(session.pk), "jti": verify_refresh(old).jti}
    # The client's own current token dies with the session, and it is told why.
    assert_refresh_refused(refresh_cookie(phone), code="token_reused")


@pytest.mark.parametrize(
    ("ip", "user_agent"),
    [(ELSEWHERE, FIREFOX), (PHONE, "curl/8.5.0")],
    ids=["copied-user-agent-other-network", "same-network-other-client"],
)
def test_a_thief_from_another_client_cannot_ride_the_tolerance(phone, clock, reused_signals, ip, user_agent):
    stolen = refresh_cookie(phone)  # copied before the victim's refresh
    assert phone.post("/api/auth/refresh/").status_code == 200  # the victim has moved on
    clock.advance(minutes=2)

    response = client_with(stolen, ip=ip, user_agent=user_agent).post("/api/auth/refresh/")

    assert response.status_code == 401
    assert response.json()["code"] == "token_reused"
    assert response.cookies[REFRESH].value == ""
    assert LoginSession.objects.get().revoked_reason == "refresh_reused"
    assert len(reused_signals) == 1
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_REUSED).count() == 1
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.REFRESH_GRACE).exists()
    assert_refresh_refused(refresh_cookie(phone), code="token_reused")


def test_the_tolerance_ends_with_the_window_counted_from_the_rotation(phone, clock, reused_signals):
    held = refresh_and_lose_the_answer(phone)
    clock.advance(minutes=10)
    assert client_with(held).post("/api/auth/refresh/").status_code == 200  # retries never extend it
    clock.advance(minutes=5, seconds=1)

    response = client_with(held).post("/api/auth/refresh/")

    assert response.status_code == 401
    assert response.json()["code"] == "token_reused"
    assert LoginSession.objects.get().revoked_reason == "refresh_reused"
    assert len(reused_signals) == 1


def test_the_window_is_a_setting_and_zero_turns_the_tolerance_off(phone, clock, settings):
    settings.TOKENS_LOST_RESPONSE_WINDOW = timedelta(0)
    held = refresh_and_lose_the_answer(phone)
    clock.advance(seconds=11)  # past the 10-second grace window

    response = client_with(held).post("/api/auth/refresh/")

    assert response.json()["code"] == "token_reused"


def test_a_longer_window_tolerates_a_longer_outage(phone, clock, settings):
    settings.TOKENS_LOST_RESPONSE_WINDOW = timedelta(hours=1)
    held = refresh_and_lose_the_answer(phone)
    clock.advance(minutes=59)

    assert client_with(held).post("/api/auth/refresh/").status_code == 200


def test_the_lost_response_answer_stays_within_the_refresh_budget(phone, clock):
    held = refresh_and_lose_the_answer(phone)
    clock.advance(minutes=10)
    with CaptureQueriesContext(connection) as captured:
        response = client_with(held).post("/api/auth/refresh/")
    assert response.status_code == 200
    sql = statements(captured)
    # The locked read of the session and the audit row; one commit.
    assert [s.split()[0] for s in sql] == ["SELECT", "INSERT"], sql
    commits = [
        q["sql"] for q in captured.captured_queries if q["sql"].upper().startswith(("COMMIT", "RELEASE"))
    ]
    assert len(commits) <= 1, commits


def test_strict_rotation_without_a_grace_window_answers_no_retired_token(phone, clock, settings):
    settings.TOKENS_ROTATION_GRACE = timedelta(0)
    held = refresh_and_lose_the_answer(phone)
    clock.advance(seconds=30)

    response = client_with(held).post("/api/auth/refresh/")

    assert response.json()["code"] == "token_reused"
