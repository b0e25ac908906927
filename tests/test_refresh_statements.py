"""The refresh's two statements are compiled once and reused
(tokens_app/prepared.py), and stay what the ORM would run.

Each refresh still reads its own session and its own user, however many
refreshes of other users the same connection ran before; the read locks the
session row where the database can; the rotation writes its columns and no
others. On both legs (SQLite, and PostgreSQL with TOKENS_REQUIRE_SERVER_TESTS).
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests import conftest
from tests.sessions_support import REFRESH, refresh_claims
from tests.test_device_sessions import FIREFOX, statements
from tokens_app.models import LoginSession
from tokens_app.tokens import verify_refresh


def signed_in(username: str) -> Client:
    return conftest.signed_in(username, ip="203.0.113.7", user_agent=FIREFOX)


def test_each_refresh_reads_its_own_session_and_user(alice, bob):
    browsers = {"alice": signed_in("alice"), "bob": signed_in("bob")}
    for _ in range(3):
        for username, client in browsers.items():
            sid = refresh_claims(client).sid

            response = client.post("/api/auth/refresh/")

            assert response.status_code == 200, response.content
            assert response.json()["user"]["username"] == username
            claims = verify_refresh(response.cookies[REFRESH].value)
            assert claims.sid == sid
            assert claims.jti == LoginSession.objects.get(pk=sid).current_jti
    assert sorted(LoginSession.objects.values_list("rotations", flat=True)) == [3, 3]


def test_a_session_of_another_user_is_not_found_by_a_forged_pairing(alice, bob):
    # The read filters on the session and its user together, as the ORM did.
    alices, bobs = signed_in("alice"), signed_in("bob")
    assert alices.post("/api/auth/refresh/").status_code == 200
    bob_session = LoginSession.objects.get(user=bob)
    LoginSession.objects.filter(pk=bob_session.pk).update(user=alice)

    response = bobs.post("/api/auth/refresh/")

    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_the_rotation_writes_the_rotation_columns_only(alice):
    client = signed_in("alice")
    before = LoginSession.objects.get()
    with CaptureQueriesContext(connection) as captured:
        assert client.post("/api/auth/refresh/").status_code == 200
    read, update = statements(captured)

    after = LoginSession.objects.get()
    assert after.previous_jti == before.current_jti
    assert after.current_jti != before.current_jti
    assert after.rotations == before.rotations + 1
    assert after.rotated_by
    assert after.rotated_at == after.last_used_at
    assert after.expires_at - after.last_used_at == timedelta(days=14)
    assert (after.created_at, after.user_agent, after.auth_time) == (
        before.created_at,
        before.user_agent,
        before.auth_time,
    )
    assert update.startswith("UPDATE")
    written = update.split(" SET ")[1].split(" WHERE ")[0]
    for column in ("created_at", "user_agent", "auth_time", "revoked_at", "user_id"):
        assert f'"{column}"' not in written
    if connection.features.has_select_for_update_of:
        assert "FOR UPDATE OF" in read
