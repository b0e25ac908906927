"""Session policies (maximum lifetimes, "remember me", re-authentication, the
session limit), tested through HTTP with an injected clock.

The ``clock`` fixture replaces ``tokens_app.clock.now``: every decision made
with the time (token expiry, the maximum lifetime, the re-authentication
window, cookie Max-Age) follows it, so a test moves a month in a line.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client

from tests.conftest import PASSWORD, login
from tests.sessions_support import ACCESS, REFRESH, api_refresh, csrf_token_from, refresh_claims
from tokens_app.models import AuditEvent, LoginSession
from tokens_app.tokens import verify_access, verify_refresh

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
MAX_LENGTH = "Your session reached its maximum length. Please sign in again."


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("tokens_app.clock.now", lambda: clock.now)
    return clock


def device(
    username: str = "alice",
    *,
    user_agent: str = FIREFOX,
    ip: str = "203.0.113.7",
    remember: bool = True,
    **client_options,
) -> Client:
    client = Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip, **client_options)
    if client_options.get("enforce_csrf_checks"):
        data = {"username": username, "password": PASSWORD, "remember": "on" if remember else ""}
        data["csrfmiddlewaretoken"] = csrf_token_from(client.get("/accounts/login/").content)
        response = client.post("/accounts/login/", data)
    else:
        response = login(client, username, remember=remember)
    assert response.status_code == 302, response.content
    return client


def session_of(client: Client) -> LoginSession:
    return LoginSession.objects.get(pk=refresh_claims(client).sid)


def messages_on(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def login_page_after(response, client: Client) -> str:
    """Follow a redirect to the login page; the text of its messages."""
    assert response.status_code == 302, response.content
    assert response["Location"].startswith("/accounts/login/")
    page = client.get(response["Location"])
    assert page.status_code == 200
    return page.content.decode()


def api_client(username: str = "alice", **login_fields) -> Client:
    client = Client(enforce_csrf_checks=True)
    token = client.get("/api/auth/csrf/").json()["csrfToken"]
    response = client.post(
        "/api/auth/login/",
        {"username": username, "password": PASSWORD, **login_fields},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200, response.content
    # Signing in rotated the CSRF token, as django.contrib.auth.login does.
    client.defaults["HTTP_X_CSRFTOKEN"] = client.cookies["__Host-csrftoken"].value
    return client


# 1. Maximum session lifetime -------------------------------------------------


@pytest.fixture
def month(settings):
    settings.TOKENS_SESSION_MAX_LIFETIME = timedelta(days=30)
    settings.TOKENS_REFRESH_LIFETIME = timedelta(days=14)


def test_an_active_session_ends_at_its_maximum_lifetime_on_a_page_load(alice, clock, month):
    browser = device()
    for _ in range(2):  # used every ten days: the idle timeout never strikes
        clock.advance(days=10)
        assert browser.get("/").status_code == 200
    clock.advance(days=9, hours=23)
    assert browser.get("/").status_code == 200

    clock.advance(hours=1, seconds=1)
    response = browser.get("/")

    assert MAX_LENGTH in login_page_after(response, browser)
    assert response.cookies[REFRESH].value == ""
    assert response.cookies[ACCESS].value == ""


def test_the_maximum_lifetime_reached_before_a_form_post_does_nothing_and_says_why(alice, clock, month):
    browser = device(enforce_csrf_checks=True)
    device(ip="203.0.113.8")  # another device of alice's
    for _ in range(2):  # in use every ten days
        clock.advance(days=10)
        assert browser.get("/").status_code == 200
    clock.advance(days=9, hours=23, minutes=58)  # the form is on screen near the end
    csrf = csrf_token_from(browser.get("/accounts/sessions/").content)

    clock.advance(hours=1)
    response = browser.post("/accounts/sessions/others/revoke/", {"csrfmiddlewaretoken": csrf})

    assert response["Location"].startswith("/accounts/login/?next=/accounts/sessions/others/revoke/")
    assert MAX_LENGTH in login_page_after(response, browser)
    assert LoginSession.objects.filter(revoked_at__isnull=True).count() == 2  # nothing was ended


def test_the_api_answers_session_max_lifetime_with_its_own_code(alice, clock, month):
    browser = device()
    raw = browser.cookies[REFRESH].value
    for _ in range(2):  # in use every ten days
        clock.advance(days=10)
        raw = api_refresh(raw).cookies[REFRESH].value

    for days in (10, 2):  # at the end, then two days after it
        clock.advance(days=days)
        response = api_refresh(raw)
        assert response.status_code == 401
        assert response.json() == {"detail": MAX_LENGTH, "code": "session_max_lifetime"}


def test_rotation_never_extends_the_tokens_or_the_refresh_cookie_past_the_maximum_lifetime(
    alice, clock, month
):
    browser = device()
    deadline = session_of(browser).created_at + timedelta(days=30)
    clock.advance(days=12)
    assert browser.get("/").status_code == 200
    clock.advance(days=13)

    response = browser.get("/")

    assert response.status_code == 200
    refresh = verify_refresh(response.cookies[REFRESH].value)
    assert refresh.expires_at == deadline  # not now + 14 days
    assert response.cookies[REFRESH]["max-age"] == 5 * 86400
    assert session_of(browser).expires_at == deadline

    clock.advance(days=5, minutes=-2)  # two minutes before the end: the access token stops with it
    response = browser.get("/")
    assert verify_access(response.cookies[ACCESS].value).expires_at == deadline
    assert response.cookies[ACCESS]["max-age"] == 120


def test_idle_timeout_still_ends_an_unused_session_first(alice, clock, month):
    browser = device()
    clock.advance(days=14, seconds=1)
    response = browser.get("/")
    assert "Your session has expired" in login_page_after(response, browser)


def test_an_idle_session_is_reported_expired_not_at_its_maximum_lifetime(alice, clock, month):
    browser = device()
    assert verify_refresh(browser.cookies[REFRESH].value).session_end == int(
        (session_of(browser).created_at + timedelta(days=30)).timestamp()
    )
    clock.advance(days=15)
    assert api_refresh(browser.cookies[REFRESH].value).json()["code"] == "token_expired"


@pytest.mark.parametrize("claim", ["sxp", "auth_time"])
@pytest.mark.parametrize("value", ["soon", True, -1, 10**15, None])
def test_a_policy_claim_of_the_wrong_type_or_range_is_an_invalid_token(alice, claim, value):
    from tests import forge

    token = forge.token(forge.claims(alice, typ="refresh", **{claim: value}))
    response = api_refresh(token)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_shortening_the_maximum_lifetime_applies_to_running_sessions(alice, clock, month, settings):
    browser = device()
    clock.advance(days=8)
    settings.TOKENS_SESSION_MAX_LIFETIME = timedelta(days=7)
    assert MAX_LENGTH in login_page_after(browser.get("/"), browser)


# 2. Remember me --------------------------------------------------------------


def test_the_login_form_offers_remember_me_ticked_by_default(db, settings):
    page = Client().get("/accounts/login/").content.decode()
    assert re.search(r'<input type="checkbox" name="remember"[^>]* checked', page)

    settings.TOKENS_REMEMBER_ME_DEFAULT = False
    page = Client().get("/accounts/login/").content.decode()
    box = re.search(r'<input type="checkbox" name="remember"[^>]*>', page).group(0)
    assert "checked" not in box


def test_signing_in_without_remember_me_sets_browser_session_cookies(alice, clock):
    browser = device(remember=False)
    response = browser.cookies  # what the login response set
    for name in (ACCESS, REFRESH):
        assert response[name].value
        assert response[name]["max-age"] == ""
        assert response[name]["expires"] == ""
    assert session_of(browser).persistent is False

    clock.advance(minutes=6)  # a silent refresh keeps them browser-session cookies
    page = browser.get("/")
    assert page.status_code == 200
    for name in (ACCESS, REFRESH):
        assert page.cookies[name].value
        assert page.cookies[name]["max-age"] == ""
        assert page.cookies[name]["expires"] == ""


def test_signing_in_with_remember_me_sets_persistent_cookies(alice):
    client = Client()
    response = login(client, remember=True)
    assert 14 * 86400 - 1 <= response.cookies[REFRESH]["max-age"] <= 14 * 86400
    assert session_of(client).persistent is True


def test_without_remember_me_the_shorter_maximum_lifetime_applies(alice, clock, settings):
    settings.TOKENS_BROWSER_SESSION_MAX_LIFETIME = timedelta(hours=12)
    browser = device(remember=False)
    clock.advance(hours=11, minutes=59)
    assert browser.get("/").status_code == 200
    clock.advance(minutes=1, seconds=11)  # past the end and the clock-skew leeway
    assert MAX_LENGTH in login_page_after(browser.get("/"), browser)


def test_api_login_remembers_by_default_and_not_when_asked(alice):
    remembered = api_client()
    assert remembered.cookies[REFRESH]["max-age"] > 0

    forgotten = api_client(remember=False)
    assert forgotten.cookies[REFRESH]["max-age"] == ""
    assert forgotten.cookies[ACCESS]["max-age"] == ""
    assert LoginSession.objects.filter(persistent=False).count() == 1


def test_the_devices_page_and_api_say_which_sessions_are_remembered(alice):
    device(remember=True)
    browser = device(remember=False, ip="198.51.100.4")

    page = browser.get("/accounts/sessions/").content.decode()
    assert page.count("Remembered") == 1
    assert page.count("Until the browser closes") == 1

    rows = browser.get("/api/auth/sessions/").json()
    assert sorted(row["remembered"] for row in rows) == [False, True]
    for row in rows:
        session = LoginSession.objects.get(pk=row["id"])
        lifetime = timedelta(days=30) if session.persistent else timedelta(hours=12)
        assert datetime.fromisoformat(row["ends_at"]) == session.created_at + lifetime


# 3. Re-authentication --------------------------------------------------------


def confirm(client: Client, response, password: str = PASSWORD):
    """Follow a redirect to the confirm page and submit the password there."""
    assert response.status_code == 302, response.content
    assert response["Location"].startswith("/accounts/reauthenticate/?next=")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Confirm your password" in page.content.decode()
    next_url = re.search(r'name="next" value="([^"]*)"', page.content.decode()).group(1)
    data = {"password": password, "next": next_url, "csrfmiddlewaretoken": csrf_token_from(page.content)}
    return client.post("/accounts/reauthenticate/", data)


def test_a_fresh_sign_in_opens_password_change_directly(alice, clock):
    browser = device()
    clock.advance(minutes=9)
    assert browser.get("/accounts/password_change/").status_code == 200


def test_a_stale_sign_in_confirms_the_password_and_returns_to_the_page(alice, clock):
    browser = device()
    clock.advance(minutes=11)

    response = browser.get("/accounts/password_change/")
    assert response["Location"] == "/accounts/reauthenticate/?next=%2Faccounts%2Fpassword_change%2F"
    confirmed = confirm(browser, response)

    assert confirmed.status_code == 302
    assert confirmed["Location"] == "/accounts/password_change/"
    assert verify_access(confirmed.cookies[ACCESS].value).auth_time == int(clock.now.timestamp())
    assert verify_refresh(confirmed.cookies[REFRESH].value).auth_time == int(clock.now.timestamp())
    assert browser.get("/accounts/password_change/").status_code == 200
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REAUTHENTICATED, user=alice).count() == 1


def test_auth_time_is_kept_through_rotation(alice, clock):
    browser = device()
    signed_in = int(clock.now.timestamp())
    clock.advance(minutes=6)  # the access token expired: a silent refresh
    response = browser.get("/")
    assert verify_access(response.cookies[ACCESS].value).auth_time == signed_in
    assert verify_refresh(response.cookies[REFRESH].value).iat > signed_in
    assert verify_refresh(response.cookies[REFRESH].value).auth_time == signed_in


def test_a_stale_post_to_log_out_other_devices_ends_nothing_and_returns_to_the_form(alice, clock):
    browser = device(enforce_csrf_checks=True)
    device(ip="198.51.100.4")
    csrf = csrf_token_from(browser.get("/accounts/sessions/").content)
    clock.advance(minutes=11)

    response = browser.post(
        "/accounts/sessions/others/revoke/",
        {"csrfmiddlewaretoken": csrf},
        HTTP_REFERER="http://testserver/accounts/sessions/",
    )

    assert "Nothing was changed yet" in " ".join(messages_on(response))
    assert LoginSession.objects.filter(revoked_at__isnull=True).count() == 2
    confirmed = confirm(browser, response)
    assert confirmed["Location"] == "/accounts/sessions/"
    # Back on the form, within the window now: the same POST goes through.
    csrf = csrf_token_from(browser.get("/accounts/sessions/").content)
    done = browser.post("/accounts/sessions/others/revoke/", {"csrfmiddlewaretoken": csrf})
    assert done["Location"] == "/accounts/sessions/"
    assert LoginSession.objects.filter(revoked_at__isnull=True).count() == 1


def test_a_stale_log_out_everywhere_needs_the_password_first(alice, clock):
    browser = device()
    clock.advance(minutes=11)
    response = browser.post("/accounts/logout/all/")
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert LoginSession.objects.filter(revoked_at__isnull=True).count() == 1


def test_a_post_from_another_site_is_never_the_page_returned_to(alice, clock):
    browser = device()
    clock.advance(minutes=11)
    response = browser.post("/accounts/logout/all/", HTTP_REFERER="https://evil.example/phish")
    assert response["Location"] == "/accounts/reauthenticate/?next=%2F"

    confirmed = browser.post(
        "/accounts/reauthenticate/", {"password": PASSWORD, "next": "https://evil.example/"}
    )
    assert confirmed["Location"] == "/"


def test_a_wrong_password_on_the_confirm_page_is_refused(alice, clock):
    browser = device()
    clock.advance(minutes=11)
    response = browser.post("/accounts/reauthenticate/", {"password": "wrong", "next": "/"})
    assert response.status_code == 200
    assert "That is not your password." in response.content.decode()
    # Only the silent refresh's new cookies (the access token had expired): auth_time unchanged.
    assert verify_access(response.cookies[ACCESS].value).auth_time == int(clock.now.timestamp()) - 660
    assert browser.get("/accounts/password_change/")["Location"].startswith("/accounts/reauthenticate/")


def test_reauthentication_is_throttled_like_a_login(alice, clock):
    browser = device()
    for _ in range(5):
        browser.post("/accounts/reauthenticate/", {"password": "guess", "next": "/"})

    response = browser.post("/accounts/reauthenticate/", {"password": PASSWORD, "next": "/"})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_FAILED).count() == 5
    # The same counter as the login page (this browser on this account):
    # signing in from it is locked too.
    assert login(browser).status_code == 429


def test_the_confirm_page_needs_a_signed_in_user(db):
    response = Client().get("/accounts/reauthenticate/")
    assert response["Location"].startswith("/accounts/login/")


def test_api_sensitive_actions_answer_403_reauthentication_required_when_stale(alice, clock):
    client = api_client()
    clock.advance(minutes=11)
    assert client.post("/api/auth/refresh/").status_code == 200  # a fresh access token, the old auth_time

    for path in ("/api/auth/logout-all/", "/api/auth/logout-others/"):
        response = client.post(path)
        assert response.status_code == 403
        assert response.json()["code"] == "reauthentication_required"
    assert LoginSession.objects.filter(revoked_at__isnull=True).count() == 1

    wrong = client.post("/api/auth/reauthenticate/", {"password": "nope"}, content_type="application/json")
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_credentials"

    confirmed = client.post(
        "/api/auth/reauthenticate/", {"password": PASSWORD}, content_type="application/json"
    )
    assert confirmed.status_code == 200
    assert verify_access(confirmed.cookies[ACCESS].value).auth_time == int(clock.now.timestamp())

    assert client.post("/api/auth/logout-others/").json() == {
        "detail": "Logged out 0 other device(s).",
        "count": 0,
    }
    assert client.post("/api/auth/logout-all/").status_code == 200


def test_api_reauthentication_is_throttled_like_a_login(alice):
    client = api_client()
    for _ in range(5):
        client.post("/api/auth/reauthenticate/", {"password": "guess"}, content_type="application/json")
    response = client.post(
        "/api/auth/reauthenticate/", {"password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def test_a_token_without_auth_time_counts_as_stale(alice):
    from tests import forge

    client = Client()
    session = LoginSession.objects.create(
        user=alice, expires_at=datetime.now(UTC) + timedelta(days=1), current_jti="x"
    )
    client.cookies[ACCESS] = forge.token(forge.claims(alice, sid=str(session.pk)))
    response = client.get("/accounts/password_change/")
    assert response["Location"].startswith("/accounts/reauthenticate/")


@pytest.fixture
def staff(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


def test_the_admin_needs_a_recent_sign_in_by_default(staff, clock):
    browser = device("root")
    assert browser.get("/admin/").status_code == 200
    clock.advance(minutes=11)

    response = browser.get("/admin/tokens_app/user/")
    assert response["Location"] == "/accounts/reauthenticate/?next=%2Fadmin%2Ftokens_app%2Fuser%2F"
    assert confirm(browser, response)["Location"] == "/admin/tokens_app/user/"
    assert browser.get("/admin/tokens_app/user/").status_code == 200


def test_the_admin_reauthentication_can_be_turned_off(staff, clock, settings):
    settings.TOKENS_REAUTHENTICATE_ADMIN = False
    browser = device("root")
    clock.advance(minutes=11)
    assert browser.get("/admin/").status_code == 200


# 4. Session cap --------------------------------------------------------------


def test_signing_in_beyond_the_session_limit_ends_the_least_recently_used_device(alice, clock, settings):
    settings.TOKENS_SESSION_LIMIT = 2
    laptop = device(ip="203.0.113.7")
    clock.advance(minutes=1)
    phone = device(user_agent=IPHONE, ip="198.51.100.4")
    clock.advance(minutes=6)
    assert laptop.get("/").status_code == 200  # the laptop is used again: the phone is now the oldest

    device(user_agent=CHROME_WINDOWS, ip="192.0.2.10")

    assert session_of(phone).revoked_reason == "session_limit"
    assert session_of(laptop).revoked_at is None
    assert LoginSession.objects.active().filter(user=alice).count() == 2
    answer = api_refresh(phone.cookies[REFRESH].value)
    assert answer.status_code == 401
    assert answer.json()["code"] == "session_limit"
    assert "least recently used" in login_page_after(phone.get("/"), phone)


def test_a_capped_device_reads_why_even_while_its_access_token_is_valid(
    alice, settings, django_capture_on_commit_callbacks
):
    settings.TOKENS_SESSION_LIMIT = 1
    settings.TOKENS_IMMEDIATE_REVOCATION = True
    first = device()
    with django_capture_on_commit_callbacks(execute=True):  # the revocation's cache write
        device(ip="198.51.100.4")
    assert "least recently used" in login_page_after(first.get("/"), first)


def test_there_is_no_session_cap_by_default(alice):
    for n in range(6):
        device(ip=f"203.0.113.{n + 1}")
    assert LoginSession.objects.active().filter(user=alice).count() == 6


# 5. New-device alerts --------------------------------------------------------


def alert_link(message) -> str:
    return re.search(r"http://testserver(/accounts/sessions/report/[^/\s]+/)", message.body).group(1)


def test_the_first_sign_in_of_an_account_sends_no_alert(alice):
    device()
    assert mail.outbox == []


def test_the_same_browser_on_the_same_network_is_not_a_new_device(alice):
    device(ip="203.0.113.7")
    device(ip="203.0.113.99")  # same /24: DHCP moved it
    assert mail.outbox == []


def test_a_sign_in_from_a_new_device_mails_the_owner_naming_device_network_and_time(alice, clock):
    device()
    device(user_agent=CHROME_WINDOWS, ip="198.51.100.9")

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert message.subject == "New sign-in to your account on testserver"
    assert "Chrome on Windows" in message.body
    assert "198.51.100.0/24" in message.body
    assert "198.51.100.9" in message.body
    assert clock.now.strftime("%Y") in message.body
    assert "/accounts/password_reset/" in message.body
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.NEW_DEVICE_ALERT)
    assert (event.user, event.detail["network"]) == (alice, "198.51.100.0/24")


def test_a_device_whose_sessions_were_pruned_is_still_known(alice):
    from io import StringIO

    from django.core.management import call_command

    laptop = device()
    device(user_agent=CHROME_WINDOWS, ip="198.51.100.9")
    mail.outbox.clear()
    # Both sessions reached their end long ago and the daily prune deleted them.
    LoginSession.objects.update(expires_at=datetime.now(UTC) - timedelta(days=1))
    call_command("prune_sessions", stdout=StringIO())
    assert not LoginSession.objects.exists()
    del laptop

    device()  # the same laptop on the same network
    device(user_agent=CHROME_WINDOWS, ip="198.51.100.77")
    assert mail.outbox == []
    device(user_agent=IPHONE, ip="192.0.2.1")  # still told about a really new one
    assert len(mail.outbox) == 1


def test_ipv6_networks_are_compared_by_their_48(alice):
    device(ip="2001:db8:1:2::10")
    device(ip="2001:db8:1:ffff::20")
    assert mail.outbox == []
    device(ip="2001:db8:2::1")
    assert len(mail.outbox) == 1
    assert "2001:db8:2::/48" in mail.outbox[0].body


@pytest.fixture
def signalled():
    from tokens_app.signals import new_device_signed_in

    received = []

    def receiver(sender, user, session, request, **kwargs):
        received.append((user.pk, str(session.pk)))

    new_device_signed_in.connect(receiver)
    yield received
    new_device_signed_in.disconnect(receiver)


def test_the_this_wasnt_me_link_ends_exactly_that_device_once(alice, signalled):
    mine = device()
    thief = device(user_agent=CHROME_WINDOWS, ip="198.51.100.9")
    link = alert_link(mail.outbox[0])
    reader = Client(enforce_csrf_checks=True)  # the owner's mail app, signed out

    asked = reader.get(link)  # a mail scanner opening it ends nothing
    assert asked.status_code == 200
    assert "End this sign-in?" in asked.content.decode()
    assert asked["Referrer-Policy"] == "strict-origin"
    assert session_of(thief).revoked_at is None
    csrf = {"csrfmiddlewaretoken": csrf_token_from(asked.content)}
    assert reader.post(link).status_code == 403  # CSRF holds here too

    ended = reader.post(link, csrf)
    assert ended.status_code == 200
    assert "That sign-in has been ended" in ended.content.decode()
    assert 'href="/accounts/password_reset/"' in ended.content.decode()
    assert session_of(thief).revoked_reason == "reported"
    assert session_of(mine).revoked_at is None
    assert api_refresh(thief.cookies[REFRESH].value).json()["code"] == "session_reported"
    assert mine.get("/").status_code == 200

    again = reader.post(link, csrf)
    assert "This link has already been used" in again.content.decode()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.SESSION_REPORTED).count() == 1
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.SESSION_REVOKED, reason="reported").count() == 1
    assert signalled == [(alice.pk, str(session_of(thief).pk))]


@pytest.mark.parametrize("token", ["forged", "eyJzaWQiOiJ4In0:1s:abc", "x" * 300])
def test_a_forged_or_broken_report_link_is_404(db, token):
    for method in ("get", "post"):
        response = getattr(Client(), method)(f"/accounts/sessions/report/{token}/")
        assert response.status_code == 404
        assert "This link is not valid" in response.content.decode()


@pytest.mark.parametrize("value", [{"sid": "not-a-uuid"}, {"sid": 7}, {}, ["x"], "x"])
def test_a_genuinely_signed_report_link_naming_no_session_is_404(db, value):
    from django.core import signing

    token = signing.dumps(value, salt="tokens_app.alerts.not_me", compress=True)
    for method in ("get", "post"):
        response = getattr(Client(), method)(f"/accounts/sessions/report/{token}/")
        assert response.status_code == 404


def test_an_expired_report_link_is_refused(alice, settings):
    device()
    thief = device(user_agent=CHROME_WINDOWS, ip="198.51.100.9")
    settings.TOKENS_NEW_DEVICE_LINK_MAX_AGE = timedelta(seconds=-1)
    response = Client().post(alert_link(mail.outbox[0]))
    assert response.status_code == 404
    assert session_of(thief).revoked_at is None


def test_new_device_alerts_are_limited_per_user(alice, settings):
    settings.TOKENS_NEW_DEVICE_ALERT_RATE = (2, timedelta(hours=1))
    device()
    for n in range(4):
        device(ip=f"198.51.{n}.9")
    assert len(mail.outbox) == 2


def test_an_account_without_an_address_gets_no_mail_but_the_signal_still_fires(make_user, signalled):
    user = make_user("carol", email="")
    device("carol")
    device("carol", user_agent=CHROME_WINDOWS, ip="198.51.100.9")
    assert mail.outbox == []
    assert [pk for pk, _ in signalled] == [user.pk]


def test_new_device_alerts_can_be_turned_off(alice, settings):
    settings.TOKENS_NEW_DEVICE_ALERTS = False
    device()
    device(user_agent=CHROME_WINDOWS, ip="198.51.100.9")
    assert mail.outbox == []


def test_a_failing_mail_server_never_fails_the_sign_in(alice, settings):
    settings.EMAIL_BACKEND = "tests.test_session_policies.BrokenMailBackend"
    device()
    device(user_agent=CHROME_WINDOWS, ip="198.51.100.9")
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.NEW_DEVICE_ALERT).exists()


class BrokenMailBackend:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("no SMTP server")


# 6. Standards gaps -----------------------------------------------------------


def test_logout_and_log_out_everywhere_clear_site_data(alice):
    clear = '"cookies", "storage"'
    assert device().post("/accounts/logout/")["Clear-Site-Data"] == clear
    assert device().post("/accounts/logout/all/")["Clear-Site-Data"] == clear
    assert api_client().post("/api/auth/logout/")["Clear-Site-Data"] == clear
    assert api_client().post("/api/auth/logout-all/")["Clear-Site-Data"] == clear


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/accounts/logout/", "You have been logged out."),
        ("/accounts/logout/all/", "You have been logged out on all devices."),
    ],
)
def test_after_clearing_site_data_the_login_page_still_says_what_happened(alice, path, said):
    browser = device()
    response = browser.post(path)
    assert response["Location"].startswith("/accounts/logout/done/")
    assert "Clear-Site-Data" in response
    hop = browser.get(response["Location"])
    assert hop["Location"] == "/accounts/login/"
    assert not hop.has_header("Clear-Site-Data")
    assert said in browser.get("/accounts/login/").content.decode()


def test_the_logged_out_hop_tells_a_signed_in_visitor_nothing(alice):
    browser = device()
    response = browser.get("/accounts/logout/done/")
    assert response["Location"] == "/"
    assert browser.get("/").status_code == 200


def test_pages_that_are_not_logouts_clear_nothing(alice):
    browser = device()
    assert not browser.get("/").has_header("Clear-Site-Data")


def _header(token: str) -> dict:
    import base64
    import json

    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def test_tokens_are_explicitly_typed_in_their_header(alice):
    browser = device()
    assert _header(browser.cookies[ACCESS].value)["typ"] == "at+jwt"
    assert _header(browser.cookies[REFRESH].value)["typ"] == "refresh+jwt"


def test_an_access_token_is_never_taken_for_a_refresh_token(alice):
    from tokens_app.exceptions import TokenError

    browser = device()
    with pytest.raises(TokenError):
        verify_refresh(browser.cookies[ACCESS].value)
    assert api_refresh(browser.cookies[ACCESS].value).status_code == 401


def test_a_header_type_that_contradicts_the_payload_is_refused(alice):
    from tests import forge
    from tokens_app.exceptions import TokenError

    session = LoginSession.objects.create(
        user=alice, expires_at=datetime.now(UTC) + timedelta(days=1), current_jti="x"
    )
    from tokens_app.keys import hmac_key_id

    payload = forge.claims(alice, sid=str(session.pk))
    secret = forge.secret_for("access")
    for header_type in ("refresh+jwt", "application/jwt", "AT+JWT"):
        typed = forge.sign({"alg": "HS256", "typ": header_type, "kid": hmac_key_id(secret)}, payload, secret)
        with pytest.raises(TokenError, match="wrong header type"):
            verify_access(typed)


def test_untyped_tokens_from_before_the_deploy_stay_valid_until_switched_off(alice, settings):
    from tests import forge
    from tokens_app.exceptions import TokenError

    session = LoginSession.objects.create(
        user=alice, expires_at=datetime.now(UTC) + timedelta(days=1), current_jti="x"
    )
    legacy = forge.token(forge.claims(alice, sid=str(session.pk)))  # header typ "JWT", as issued before
    assert _header(legacy)["typ"] == "JWT"
    assert verify_access(legacy).sub == str(alice.pk)

    settings.TOKENS_ACCEPT_UNTYPED_TOKENS = False
    with pytest.raises(TokenError, match="wrong header type"):
        verify_access(legacy)


@pytest.fixture
def login_required_everywhere(settings):
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[
            : settings.MIDDLEWARE.index("tokens_app.middleware.TokenAuthenticationMiddleware") + 1
        ],
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
        *settings.MIDDLEWARE[
            settings.MIDDLEWARE.index("tokens_app.middleware.TokenAuthenticationMiddleware") + 1 :
        ],
    ]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/accounts/login/", 200),
        ("get", "/accounts/logout/", 200),
        ("get", "/accounts/logout/done/", 302),
        ("get", "/accounts/password_reset/", 200),
        ("get", "/accounts/password_reset/done/", 200),
        ("get", "/accounts/reset/MQ/bad-token/", 200),
        ("get", "/accounts/reset/done/", 200),
        ("get", "/accounts/sessions/report/forged/", 404),
        ("get", "/api/auth/csrf/", 200),
        ("post", "/api/auth/login/", 400),
        ("post", "/api/auth/refresh/", 401),
        ("post", "/api/auth/logout/", 200),
        ("get", "/api/auth/me/", 401),
        ("get", "/.well-known/jwks.json", 404),  # JSON: HS256 has no public keys to publish
        ("get", "/healthz/", 200),
        ("get", "/admin/login/", 302),
    ],
)
def test_public_views_work_with_djangos_login_required_middleware(
    db, login_required_everywhere, method, path, status
):
    response = getattr(Client(), method)(path)
    assert response.status_code == status, response.content
    if status == 302:  # to the site's login page itself, not a login_required loop
        assert response["Location"] in ("/accounts/login/?next=%2Fadmin%2F", "/accounts/login/")


def test_private_pages_still_need_a_login_with_the_middleware(alice, login_required_everywhere):
    assert Client().get("/accounts/sessions/")["Location"].startswith("/accounts/login/")
    browser = device()
    assert browser.get("/accounts/sessions/").status_code == 200
    assert browser.post("/accounts/logout/").status_code == 302


# Settings from the environment and the password change ------------------------------------------

SHOW_POLICIES = [
    "-c",
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.TOKENS_SESSION_MAX_LIFETIME.days, int(s.TOKENS_BROWSER_SESSION_MAX_LIFETIME.total_seconds()), "
    "int(s.TOKENS_REAUTHENTICATION_TIMEOUT.total_seconds()), s.TOKENS_SESSION_LIMIT, "
    "s.TOKENS_NEW_DEVICE_ALERTS)",
]


def test_the_policies_come_from_the_environment_with_their_defaults():
    from tests.test_configuration import TEST_SECRETS, _run

    default = _run(SHOW_POLICIES, **TEST_SECRETS)
    assert default.returncode == 0, default.stderr
    assert default.stdout.split() == ["30", str(12 * 3600), "600", "None", "True"]

    chosen = _run(
        SHOW_POLICIES,
        **TEST_SECRETS,
        SESSION_MAX_LIFETIME="7d",
        BROWSER_SESSION_MAX_LIFETIME="2h",
        REAUTHENTICATION_TIMEOUT="5m",
        SESSION_LIMIT="3",
        NEW_DEVICE_ALERTS="0",
    )
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.split() == ["7", "7200", "300", "3", "False"]


@pytest.mark.parametrize("junk", ["many", "0", "-2"])
def test_a_junk_session_limit_stops_start_up_saying_what_to_set(junk):
    from tests.test_configuration import SETUP, TEST_SECRETS, _run

    result = _run(SETUP, **TEST_SECRETS, SESSION_LIMIT=junk)
    assert result.returncode != 0
    assert "SESSION_LIMIT must be a whole number" in result.stderr


def test_a_password_change_keeps_the_devices_remember_me_choice(alice):
    browser = device(remember=False)
    response = browser.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a new horse staple 93",
            "new_password2": "a new horse staple 93",
        },
    )
    assert response["Location"] == "/accounts/password_change/done/"
    assert response.cookies[REFRESH]["max-age"] == ""
    assert session_of(browser).persistent is False


def test_the_remember_me_box_is_not_labelled_optional_and_says_what_unticking_does(db):
    page = Client().get("/accounts/login/").content.decode()
    label = re.search(r'<label for="id_remember">(.*?)</label>', page).group(1)
    assert label == "Remember me on this device"
    assert "signed out when the browser closes" in page


def test_an_empty_post_to_the_confirm_page_asks_for_the_password(alice):
    browser = device()
    response = browser.post("/accounts/reauthenticate/", {})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


def test_the_admin_session_list_shows_and_filters_remembered_sessions(staff, alice):
    device(remember=False)
    admin = device("root")
    page = admin.get("/admin/tokens_app/loginsession/", {"persistent__exact": "0"})
    assert page.status_code == 200
    assert "Remembered" in page.content.decode()
    assert list(page.context["cl"].queryset.values_list("user__username", flat=True)) == ["alice"]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("TOKENS_SESSION_MAX_LIFETIME", timedelta(0)),
        ("TOKENS_BROWSER_SESSION_MAX_LIFETIME", 3600),
        ("TOKENS_REAUTHENTICATION_TIMEOUT", timedelta(minutes=-1)),
        ("TOKENS_NEW_DEVICE_LINK_MAX_AGE", None),
        ("TOKENS_SESSION_LIMIT", 0),
        ("TOKENS_SESSION_LIMIT", "3"),
    ],
)
def test_a_policy_setting_out_of_range_stops_start_up_naming_it(settings, setting, value):
    import io

    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    setattr(settings, setting, value)
    with pytest.raises(SystemCheckError, match=f"tokens_app.E007.*{setting}"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


def test_a_browser_session_outliving_a_remembered_one_is_a_warning(settings):
    import io

    from django.core.management import call_command

    settings.TOKENS_BROWSER_SESSION_MAX_LIFETIME = timedelta(days=60)
    err = io.StringIO()
    call_command("check", stdout=io.StringIO(), stderr=err)  # a warning does not stop start-up
    assert "tokens_app.W008" in err.getvalue()
