"""One login session per device, refresh rotation with reuse
detection, the "your devices" page and API, the admin, and housekeeping.

Time is a parameter: ``flows.refresh(raw, now=...)`` moves the clock, and the
``settings`` fixture sets TOKENS_ROTATION_GRACE for the HTTP tests.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import PASSWORD, login, signed_in
from tests.sessions_support import (
    ACCESS,
    REFRESH,
    api_refresh,
    assert_refresh_accepted,
    assert_refresh_refused,
    browser_with,
    refresh_claims,
    refresh_cookie,
    token_version,
)
from tokens_app import flows
from tokens_app.exceptions import TokenExpired, TokenReused, TokenRevoked
from tokens_app.models import AuditEvent, LoginSession
from tokens_app.tokens import verify_refresh

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def device(username: str = "alice", user_agent: str = FIREFOX, ip: str = "203.0.113.7") -> Client:
    """A browser signed in through the login page."""
    return signed_in(username, user_agent=user_agent, ip=ip)


def session_of(client: Client) -> LoginSession:
    return LoginSession.objects.get(pk=refresh_claims(client).sid)


# --- one session per login -----------------------------------------------------------


def test_each_login_creates_one_session_describing_the_device(alice):
    firefox = device(user_agent=FIREFOX, ip="203.0.113.7")
    assert LoginSession.objects.count() == 1
    device(user_agent=IPHONE, ip="198.51.100.2")
    assert LoginSession.objects.count() == 2

    session = session_of(firefox)
    assert session.user == alice
    assert session.user_agent == "Firefox on Linux"
    assert session.ip_address == "203.0.113.7"
    assert session.revoked_at is None
    assert session.expires_at > timezone.now() + timedelta(days=13)
    assert session.current_jti == refresh_claims(firefox).jti
    assert LoginSession.objects.exclude(pk=session.pk).get().user_agent == "Safari on iPhone"


def test_api_login_creates_one_session_too(alice):
    client = Client(HTTP_USER_AGENT=IPHONE, REMOTE_ADDR="198.51.100.2")
    response = client.post("/api/auth/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    session = LoginSession.objects.get()
    assert (session.user_agent, session.ip_address) == ("Safari on iPhone", "198.51.100.2")
    assert refresh_claims(client).sid == str(session.pk)


def test_a_failed_login_creates_no_session(alice):
    assert login(Client(), "alice", "wrong password").status_code == 200
    assert LoginSession.objects.count() == 0


# --- rotation -------------------------------------------------------------------------------


def test_every_refresh_issues_a_new_refresh_token_for_the_same_session(alice):
    client = device()
    session = session_of(client)
    seen = [refresh_cookie(client)]

    for rotations in (1, 2, 3):
        response = client.post("/api/auth/refresh/")
        assert response.status_code == 200
        seen.append(refresh_cookie(client))
        claims = verify_refresh(seen[-1])
        session.refresh_from_db()
        assert claims.sid == str(session.pk)
        assert claims.jti == session.current_jti
        assert session.rotations == rotations

    assert len(set(seen)) == 4
    assert len({verify_refresh(token).jti for token in seen}) == 4
    assert LoginSession.objects.count() == 1


def test_silent_refresh_on_a_page_load_rotates_too(alice):
    old = refresh_cookie(device())
    browser = browser_with(old)

    response = browser.get("/")

    assert response.status_code == 200
    new = response.cookies[REFRESH].value
    assert new
    assert new != old
    assert response.cookies[ACCESS].value
    assert verify_refresh(new).jti == LoginSession.objects.get().current_jti
    assert browser.get("/").status_code == 200  # the new access cookie carries the user


def test_refresh_slides_the_session_expiry_and_records_use(alice):
    raw = refresh_cookie(device())
    session = LoginSession.objects.get()
    later = datetime.now(UTC) + timedelta(hours=1)

    pair = flows.refresh(raw, now=later)

    session.refresh_from_db()
    assert session.last_used_at == later
    assert session.rotated_at == later
    assert session.expires_at == later + timedelta(days=14)
    assert pair.refresh.claims.jti == session.current_jti


def test_an_old_refresh_token_is_refused_after_the_grace_window(alice, settings):
    settings.TOKENS_ROTATION_GRACE = timedelta(seconds=10)
    old = refresh_cookie(device())
    rotated = datetime.now(UTC)
    flows.refresh(old, now=rotated)

    with pytest.raises(TokenReused):
        flows.refresh(old, now=rotated + timedelta(seconds=11))


def test_reuse_after_the_grace_window_revokes_that_session_only(alice, settings, reused_signals):
    settings.TOKENS_ROTATION_GRACE = timedelta(0)
    victim = device(user_agent=FIREFOX)
    laptop = device(user_agent=IPHONE)
    stolen = refresh_cookie(victim)
    assert victim.post("/api/auth/refresh/").status_code == 200  # the victim rotates
    current = refresh_cookie(victim)

    response = api_refresh(stolen)  # the thief presents the retired token

    assert response.status_code == 401
    assert response.json()["code"] == "token_reused"
    assert response.cookies[REFRESH].value == ""
    session = session_of(victim)
    assert session.revoked_at is not None
    assert session.revoked_reason == "refresh_reused"
    # The victim's current token dies with the session: both must log in
    # again, and the victim is told why.
    assert_refresh_refused(current, code="token_reused")
    # The same user's other device is untouched, and so is the counter.
    assert_refresh_accepted(refresh_cookie(laptop))
    assert session_of(laptop).revoked_at is None
    assert token_version(alice) == 0

    assert len(reused_signals) == 1
    assert reused_signals[0]["user"] == alice
    assert reused_signals[0]["session"].pk == session.pk
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.REFRESH_REUSED)
    assert event.user == alice
    assert event.detail == {"session": str(session.pk), "jti": verify_refresh(stolen).jti}
    assert stolen not in str(event.detail)


def test_reuse_leaves_other_users_alone(alice, bob, settings):
    settings.TOKENS_ROTATION_GRACE = timedelta(0)
    bob_browser = device("bob")
    victim = device("alice")
    stolen = refresh_cookie(victim)
    victim.post("/api/auth/refresh/")

    assert api_refresh(stolen).json()["code"] == "token_reused"

    assert_refresh_accepted(refresh_cookie(bob_browser))


def test_reuse_on_a_page_load_signs_the_browser_out_with_a_message(alice, settings):
    settings.TOKENS_ROTATION_GRACE = timedelta(0)
    victim = device()
    stolen = refresh_cookie(victim)
    victim.post("/api/auth/refresh/")

    thief = browser_with(stolen)
    response = thief.get("/", follow=True)

    assert response.redirect_chain[0][0].startswith("/accounts/login/")
    assert "used from somewhere else" in " ".join(str(m) for m in response.context["messages"])
    assert session_of(victim).revoked_reason == "refresh_reused"


def test_two_refreshes_with_the_same_token_within_the_grace_window_both_succeed(alice, reused_signals):
    raw = refresh_cookie(device())
    first_tab, second_tab = browser_with(raw), browser_with(raw)

    first = first_tab.post("/api/auth/refresh/")
    second = second_tab.post("/api/auth/refresh/")

    assert (first.status_code, second.status_code) == (200, 200)
    session = LoginSession.objects.get()
    jtis = {verify_refresh(r.cookies[REFRESH].value).jti for r in (first, second)}
    # No second branch of the chain: both tabs now hold the session's current token.
    assert jtis == {session.current_jti}
    assert session.rotations == 1
    assert session.revoked_at is None
    assert reused_signals == []
    assert_refresh_accepted(second.cookies[REFRESH].value)


def test_the_grace_window_is_measured_from_the_rotation(alice, settings):
    settings.TOKENS_ROTATION_GRACE = timedelta(seconds=10)
    old = refresh_cookie(device())
    rotated = datetime.now(UTC)
    current = flows.refresh(old, now=rotated).refresh.claims.jti

    again = flows.refresh(old, now=rotated + timedelta(seconds=10))

    assert again.refresh.claims.jti == current
    assert LoginSession.objects.get().rotations == 1
    with pytest.raises(TokenReused):
        flows.refresh(old, now=rotated + timedelta(seconds=10, microseconds=1))


def test_a_token_two_rotations_old_is_reuse_even_within_the_grace_window(alice, settings):
    settings.TOKENS_ROTATION_GRACE = timedelta(minutes=1)
    first = refresh_cookie(device())
    now = datetime.now(UTC)
    second = flows.refresh(first, now=now).refresh.token
    flows.refresh(second, now=now + timedelta(seconds=1))

    with pytest.raises(TokenReused):
        flows.refresh(first, now=now + timedelta(seconds=2))
    assert LoginSession.objects.get().revoked_reason == "refresh_reused"


def test_refresh_is_refused_once_the_session_expired(alice, settings):
    raw = refresh_cookie(device())
    LoginSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(TokenExpired):
        flows.refresh(raw)
    assert api_refresh(raw).json()["code"] == "token_expired"


def test_refresh_of_a_revoked_session_is_refused_without_calling_it_reuse(alice, reused_signals):
    client = device()
    raw = refresh_cookie(client)
    client.post("/accounts/logout/")
    with pytest.raises(TokenRevoked) as caught:
        flows.refresh(raw)
    assert type(caught.value) is TokenRevoked
    assert reused_signals == []


# --- logging out one device ---------------------------------------------------------------


def test_logout_revokes_only_this_device(alice):
    here, there = device(user_agent=FIREFOX), device(user_agent=IPHONE)
    here_token = refresh_cookie(here)

    response = here.post("/accounts/logout/")

    assert response.status_code == 302
    assert response.cookies[REFRESH].value == ""
    assert session_of(browser_with(here_token)).revoked_reason == "logout"
    assert_refresh_refused(here_token)
    assert_refresh_accepted(refresh_cookie(there))
    assert token_version(alice) == 0


def test_logout_by_get_only_asks_for_confirmation(alice):
    client = device()
    assert client.get("/accounts/logout/").status_code == 200
    assert session_of(client).revoked_at is None


def test_api_logout_revokes_only_this_device(alice):
    here, there = Client(), device(user_agent=IPHONE)
    here.post("/api/auth/login/", {"username": "alice", "password": PASSWORD})
    here_token = refresh_cookie(here)

    response = here.post("/api/auth/logout/")

    assert response.status_code == 200
    assert response.cookies[REFRESH].value == ""
    assert_refresh_refused(here_token)
    assert_refresh_accepted(refresh_cookie(there))


def test_log_out_other_devices_keeps_only_this_one(alice, bob):
    here = device(user_agent=FIREFOX)
    others = [device(user_agent=IPHONE), device(user_agent="curl/8.5.0")]
    bob_browser = device("bob")
    page = here.get("/accounts/sessions/")
    assert b'action="/accounts/sessions/others/revoke/"' in page.content

    response = here.post("/accounts/sessions/others/revoke/", follow=True)

    assert response.redirect_chain == [("/accounts/sessions/", 302)]
    assert [str(m) for m in response.context["messages"]] == ["Logged out 2 other device(s)."]
    assert [row.pk for row in response.context["sessions"]] == [session_of(here).pk]
    for other in others:
        assert_refresh_refused(refresh_cookie(other))
    assert here.get("/").status_code == 200
    assert_refresh_accepted(refresh_cookie(here))
    assert_refresh_accepted(refresh_cookie(bob_browser))
    assert token_version(alice) == 0


# --- the sessions page ----------------------------------------------------------------------


def test_sessions_page_lists_my_devices_with_this_one_marked(alice, bob):
    here = device(user_agent=FIREFOX, ip="203.0.113.7")
    phone = device(user_agent=IPHONE, ip="198.51.100.2")
    ended = device(user_agent="curl/8.5.0")
    ended.post("/accounts/logout/")
    device("bob", user_agent="Mozilla/5.0 (Windows NT 10.0) Edg/120.0")

    response = here.get("/accounts/sessions/")

    assert response.status_code == 200
    rows = response.context["sessions"]
    assert {row.pk for row in rows} == {session_of(here).pk, session_of(phone).pk}
    assert [row.pk for row in rows if row.is_current] == [session_of(here).pk]
    html = response.content.decode()
    assert html.count("This device") == 1
    assert re.search(r"Firefox on Linux <span class=\"badge\">This device</span>", html)
    assert "Safari on iPhone" in html
    assert "198.51.100.2" in html
    assert "curl" not in html
    assert "Edge on Windows" not in html


def test_sessions_page_needs_a_login():
    response = Client().get("/accounts/sessions/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/sessions/"


def test_logging_out_one_device_from_the_sessions_page(alice):
    here, phone = device(user_agent=FIREFOX), device(user_agent=IPHONE)
    target = session_of(phone)

    response = here.post(f"/accounts/sessions/{target.pk}/revoke/", follow=True)

    assert response.redirect_chain == [("/accounts/sessions/", 302)]
    assert [str(m) for m in response.context["messages"]] == ["That device has been logged out."]
    assert_refresh_refused(refresh_cookie(phone))
    assert_refresh_accepted(refresh_cookie(here))


def test_logging_out_this_device_from_the_sessions_page_signs_out_here(alice):
    here = device()
    token = refresh_cookie(here)

    response = here.post(f"/accounts/sessions/{session_of(here).pk}/revoke/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert response.cookies[REFRESH].value == ""
    assert_refresh_refused(token)


# --- the sessions API -------------------------------------------------------------------------


def test_api_lists_my_active_sessions_with_the_current_one_flagged(alice, bob):
    here, phone = device(user_agent=FIREFOX, ip="203.0.113.7"), device(user_agent=IPHONE)
    device("bob")

    response = here.get("/api/auth/sessions/")

    assert response.status_code == 200
    by_id = {row["id"]: row for row in response.json()}
    assert set(by_id) == {str(session_of(here).pk), str(session_of(phone).pk)}
    mine = by_id[str(session_of(here).pk)]
    assert mine["current"] is True
    assert (mine["device"], mine["ip_address"]) == ("Firefox on Linux", "203.0.113.7")
    assert by_id[str(session_of(phone).pk)]["current"] is False
    assert set(mine) == {
        "id",
        "device",
        "ip_address",
        "created_at",
        "last_used_at",
        "expires_at",
        "remembered",
        "ends_at",
        "current",
    }


def test_api_delete_ends_one_of_my_sessions(alice):
    here, phone = device(), device(user_agent=IPHONE)

    response = here.delete(f"/api/auth/sessions/{session_of(phone).pk}/")

    assert response.status_code == 204
    assert REFRESH not in response.cookies
    assert_refresh_refused(refresh_cookie(phone))
    assert_refresh_accepted(refresh_cookie(here))


def test_api_delete_of_the_current_session_clears_the_cookies(alice):
    here = device()
    token = refresh_cookie(here)

    response = here.delete(f"/api/auth/sessions/{session_of(here).pk}/")

    assert response.status_code == 204
    assert response.cookies[REFRESH].value == ""
    assert_refresh_refused(token)


def test_api_sessions_need_authentication(alice):
    device()
    assert Client().get("/api/auth/sessions/").status_code == 401
    session = LoginSession.objects.get()
    assert Client().delete(f"/api/auth/sessions/{session.pk}/").status_code == 401
    session.refresh_from_db()
    assert session.revoked_at is None


def test_a_user_can_never_see_or_end_another_users_session(alice, bob):
    mallory = device("alice")
    bob_browser = device("bob")
    bobs = session_of(bob_browser)

    listed = {row["id"] for row in mallory.get("/api/auth/sessions/").json()}
    assert str(bobs.pk) not in listed
    assert mallory.delete(f"/api/auth/sessions/{bobs.pk}/").status_code == 404
    assert mallory.post(f"/accounts/sessions/{bobs.pk}/revoke/").status_code == 404
    assert str(bobs.pk).encode() not in mallory.get("/accounts/sessions/").content

    bobs.refresh_from_db()
    assert bobs.revoked_at is None
    assert_refresh_accepted(refresh_cookie(bob_browser))


def test_an_ended_or_unknown_session_is_404(alice):
    here, phone = device(), device(user_agent=IPHONE)
    ended = session_of(phone)
    here.delete(f"/api/auth/sessions/{ended.pk}/")
    assert here.delete(f"/api/auth/sessions/{ended.pk}/").status_code == 404
    assert here.delete("/api/auth/sessions/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert here.delete("/api/auth/sessions/not-a-uuid/").status_code == 404


# --- the admin ------------------------------------------------------------------------------------


@pytest.fixture
def root_browser(make_user) -> Client:
    make_user("root", is_staff=True, is_superuser=True)
    return device("root", user_agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Firefox/128.0")


def test_admin_user_page_shows_the_sessions_inline(root_browser, alice):
    device(user_agent=IPHONE, ip="198.51.100.2")

    page = root_browser.get(f"/admin/tokens_app/user/{alice.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Safari on iPhone" in html
    assert "198.51.100.2" in html
    assert "Force logout" in html
    # The refresh chain's identifiers stay out of the admin.
    assert LoginSession.objects.get(user=alice).current_jti not in html


def test_admin_sessions_list_revoke_action(root_browser, alice):
    phone, laptop = device(user_agent=IPHONE), device(user_agent=FIREFOX)
    target = session_of(phone)
    assert root_browser.get("/admin/tokens_app/loginsession/").status_code == 200

    response = root_browser.post(
        "/admin/tokens_app/loginsession/",
        {"action": "revoke", "_selected_action": [str(target.pk)]},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == ["1 session was revoked."]
    target.refresh_from_db()
    assert target.revoked_reason == "admin"
    assert_refresh_refused(refresh_cookie(phone))
    assert_refresh_accepted(refresh_cookie(laptop))
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.SESSION_REVOKED)
    assert (event.user, event.actor.username, event.reason) == (alice, "root", "admin")


def test_admin_audit_trail_is_newest_first_and_filterable(root_browser, alice, bob, settings):
    settings.TOKENS_ROTATION_GRACE = timedelta(0)
    victim = device("alice")
    stolen = refresh_cookie(victim)
    victim.post("/api/auth/refresh/")
    api_refresh(stolen)
    device("bob")
    call_command("force_logout", "bob", stdout=StringIO())

    page = root_browser.get("/admin/tokens_app/auditevent/")
    assert page.status_code == 200
    listed = list(page.context["cl"].result_list)
    assert listed == sorted(listed, key=lambda e: (e.created_at, e.pk), reverse=True)
    assert (listed[0].kind, listed[0].user) == (AuditEvent.Kind.REVOKED, bob)

    by_user = root_browser.get(f"/admin/tokens_app/auditevent/?user__id__exact={alice.pk}")
    assert {e.user_id for e in by_user.context["cl"].result_list} == {alice.pk}
    by_kind = root_browser.get("/admin/tokens_app/auditevent/?kind=refresh_reused")
    assert [(e.kind, e.user_id) for e in by_kind.context["cl"].result_list] == [
        (AuditEvent.Kind.REFRESH_REUSED, alice.pk)
    ]
    logins = root_browser.get("/admin/tokens_app/auditevent/?kind=login")
    assert {e.user.username for e in logins.context["cl"].result_list} == {"root", "alice", "bob"}


def test_admin_audit_trail_is_read_only(root_browser, alice):
    event = AuditEvent.objects.filter(user__username="root").first()
    assert root_browser.get("/admin/tokens_app/auditevent/add/").status_code == 403
    assert root_browser.post(f"/admin/tokens_app/auditevent/{event.pk}/delete/").status_code == 403
    page = root_browser.get(f"/admin/tokens_app/auditevent/{event.pk}/change/")
    assert page.status_code == 200
    assert b'name="kind"' not in page.content


# --- housekeeping -------------------------------------------------------------------------------


def test_prune_sessions_deletes_exactly_the_expired_and_long_revoked(alice, settings):
    settings.TOKENS_PRUNE_REVOKED_AFTER = timedelta(days=30)
    now = timezone.now()

    def session(name: str, **fields) -> LoginSession:
        fields.setdefault("expires_at", now + timedelta(days=7))
        return LoginSession.objects.create(user=alice, user_agent=name, current_jti=name, **fields)

    session("active")
    session("expired", expires_at=now - timedelta(minutes=1))
    session("revoked yesterday", revoked_at=now - timedelta(days=1))
    session("revoked long ago", revoked_at=now - timedelta(days=31))
    session("expired and revoked", expires_at=now - timedelta(days=1), revoked_at=now - timedelta(days=2))
    session("revoked just inside", revoked_at=now - timedelta(days=29, hours=23))

    out = StringIO()
    call_command("prune_sessions", "--batch-size", "2", stdout=out)

    assert out.getvalue().strip() == "Deleted 3 session(s)."
    assert set(LoginSession.objects.values_list("user_agent", flat=True)) == {
        "active",
        "revoked yesterday",
        "revoked just inside",
    }

    out = StringIO()
    call_command("prune_sessions", stdout=out)
    assert out.getvalue().strip() == "Deleted 0 session(s)."


# --- cost ------------------------------------------------------------------------------------------

_TRANSACTION_CONTROL = re.compile(r"^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)\b", re.IGNORECASE)


def statements(captured) -> list[str]:
    """The SQL a request ran, without the transaction bookkeeping that wraps it
    (BEGIN/COMMIT in production, SAVEPOINTs inside a test's transaction)."""
    return [q["sql"] for q in captured.captured_queries if not _TRANSACTION_CONTROL.match(q["sql"])]


def test_an_api_refresh_costs_at_most_three_queries(alice):
    client = device()
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/auth/refresh/")
    assert response.status_code == 200
    sql = statements(captured)
    assert len(sql) <= 3, sql
    # The locked read of the session (joined to its user) and the rotation's update.
    assert [s.split()[0] for s in sql] == ["SELECT", "UPDATE"]


def test_a_silent_refresh_on_a_page_load_costs_at_most_three_queries(alice):
    browser = browser_with(refresh_cookie(device()))
    with CaptureQueriesContext(connection) as captured:
        response = browser.get("/")
    assert response.status_code == 200
    assert len(statements(captured)) <= 3, statements(captured)


@pytest.mark.parametrize("immediate_revocation", [False, True])
def test_an_authenticated_page_request_costs_no_query(
    alice, settings, django_assert_num_queries, immediate_revocation
):
    settings.TOKENS_IMMEDIATE_REVOCATION = immediate_revocation
    client = device()
    # With immediate revocation, the first request after login reads the
    # token_version once into the cache; from then on, none.
    assert client.get("/").status_code == 200
    with django_assert_num_queries(0):
        response = client.get("/")
    assert response.status_code == 200
    assert b"Hello, alice" in response.content


# --- what else the audit trail records ------------------------------------------------------------


def test_failed_logins_are_in_the_audit_trail_without_the_password(alice, caplog):
    login(Client(REMOTE_ADDR="192.0.2.9"), "alice", "not her password")
    Client(REMOTE_ADDR="192.0.2.10").post("/api/auth/login/", {"username": "nobody", "password": "guess"})

    events = AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_FAILED).order_by("id")
    # The name is kept, with the account, only when it names one (never a typed password).
    assert [(e.detail.get("username"), e.ip_address, e.user) for e in events] == [
        ("alice", "192.0.2.9", alice),
        (None, "192.0.2.10", None),
    ]
    assert "nobody" not in str(events[1].detail)
    assert "not her password" not in caplog.text
    assert "not her password" not in str([e.detail for e in events])


def test_password_reset_requests_are_audited_for_existing_accounts_only(alice):
    Client().post("/accounts/password_reset/", {"email": "nobody@example.com"})
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.PASSWORD_RESET_REQUESTED).exists()

    Client(REMOTE_ADDR="192.0.2.9").post("/accounts/password_reset/", {"email": "alice@example.com"})

    event = AuditEvent.objects.get(kind=AuditEvent.Kind.PASSWORD_RESET_REQUESTED)
    assert (event.user, event.ip_address) == (alice, "192.0.2.9")


def test_with_immediate_revocation_an_ended_device_is_refused_at_its_next_request(
    alice, settings, django_capture_on_commit_callbacks
):
    settings.TOKENS_IMMEDIATE_REVOCATION = True
    here, phone = device(), device(user_agent=IPHONE)
    assert phone.get("/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        assert here.delete(f"/api/auth/sessions/{session_of(phone).pk}/").status_code == 204

    response = phone.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"
    assert here.get("/").status_code == 200


def test_without_immediate_revocation_an_ended_device_keeps_its_access_token_until_expiry(alice, settings):
    settings.TOKENS_IMMEDIATE_REVOCATION = False
    here, phone = device(), device(user_agent=IPHONE)

    here.delete(f"/api/auth/sessions/{session_of(phone).pk}/")

    assert phone.get("/").status_code == 200  # at most ACCESS_TOKEN_EXPIRY more
    del phone.cookies[ACCESS]
    assert phone.get("/").status_code == 302  # the refresh is refused at once
