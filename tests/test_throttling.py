"""Login, reset and refresh throttling, driven through HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, login
from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tokens_app.models import AuditEvent

WRONG = "not the password"


def api_login(client, username="alice", password=PASSWORD, **extra):
    return client.post(
        "/api/auth/login/", {"username": username, "password": password}, format="json", **extra
    )


def fail_login(client, username="alice", times=5, **extra):
    for _ in range(times):
        response = login(client, username, WRONG, **extra)
        assert response.status_code == 200
        assert b"Please enter a correct username and password" in response.content


@pytest.fixture
def small_ip_limit(settings):
    settings.TOKENS_LOGIN_IP_RATE = (3, timedelta(minutes=1))


def test_form_refuses_a_locked_account_even_with_the_right_password(alice):
    client = Client()
    fail_login(client)

    response = login(client, "alice", PASSWORD)

    assert response.status_code == 429
    assert ACCESS_COOKIE not in response.cookies
    assert b"Too many failed sign-in attempts. Please try again in 5 minutes." in response.content
    assert 290 <= int(response["Retry-After"]) <= 300


def test_api_answers_429_with_retry_after_for_a_locked_account(alice):
    client = APIClient()
    for _ in range(5):
        assert api_login(client, password=WRONG).status_code == 401

    response = api_login(client)

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 290 <= int(response["Retry-After"]) <= 300
    assert ACCESS_COOKIE not in response.cookies


def test_form_and_api_share_one_count(alice):
    for _ in range(3):
        login(Client(), "alice", WRONG)
    for _ in range(2):
        assert api_login(APIClient(), password=WRONG).status_code == 401

    assert login(Client(), "alice", PASSWORD).status_code == 429


def test_the_password_is_not_checked_while_locked(alice, monkeypatch):
    client = APIClient()
    for _ in range(5):
        api_login(client, password=WRONG)
    calls = []
    monkeypatch.setattr(
        "django.contrib.auth.backends.ModelBackend.authenticate",
        lambda *args, **kwargs: calls.append(1),
    )

    assert api_login(client).status_code == 429
    assert calls == []


def test_the_lock_ends_with_its_window(alice, settings):
    settings.TOKENS_LOGIN_ACCOUNT_RATE = (2, 1)  # 2 failures per second
    client = APIClient()
    api_login(client, password=WRONG)
    api_login(client, password=WRONG)
    assert api_login(client).status_code == 429

    import time

    time.sleep(1.1)
    assert api_login(client).status_code == 200


def test_success_resets_the_accounts_failures(alice):
    client = APIClient()
    for _ in range(4):
        api_login(client, password=WRONG)
    assert api_login(client).status_code == 200

    for _ in range(4):
        assert api_login(client, password=WRONG).status_code == 401
    assert api_login(client).status_code == 200


def test_other_spellings_of_a_username_are_other_accounts_and_do_not_lock_it(alice):
    # Django's ModelBackend is case-sensitive: "Alice" can never sign in as
    # alice, so guesses against it are not guesses against alice's password.
    client = APIClient()
    for name in ("Alice", "ALICE", "aLice", "alicE", "ALICe"):
        api_login(client, username=name, password=WRONG)

    assert api_login(client).status_code == 200


def test_with_a_case_insensitive_backend_every_spelling_counts_for_the_account(alice, settings):
    settings.TOKENS_USERNAME_CASE_INSENSITIVE = True
    client = APIClient()
    for name in ("alice", "Alice", "ALICE", "aLice", "alicE"):
        api_login(client, username=name, password=WRONG)

    assert api_login(client).status_code == 429


@pytest.mark.parametrize("kind", ["form", "api"])
def test_unknown_and_known_usernames_get_identical_answers(alice, kind):
    """Every answer, failure after failure and once locked, is byte for byte
    the same for an account that exists and one that does not."""

    def attempt(username):
        if kind == "form":
            response = login(Client(), username, WRONG)
            body = response.content.replace(b"alice", b"NAME").replace(b"nobody", b"NAME")
            # The CSRF token differs on every page; nothing else may.
            body = b"\n".join(line for line in body.splitlines() if b"csrfmiddlewaretoken" not in line)
        else:
            response = api_login(APIClient(), username=username, password=WRONG)
            body = response.content
        # The wait counts down while the test runs; its size must match, not its second.
        body = re.sub(rb"available in \d+ seconds", b"available in N seconds", body)
        retry = response.get("Retry-After")
        return response.status_code, body, retry and 280 <= int(retry) <= 300

    known = [attempt("alice") for _ in range(7)]
    unknown = [attempt("nobody") for _ in range(7)]

    assert known == unknown
    assert [status for status, *_ in known] == (
        [200] * 5 + [429] * 2 if kind == "form" else [401] * 5 + [429] * 2
    )


def test_unknown_usernames_still_run_the_hasher(db, monkeypatch):
    from django.contrib.auth.hashers import MD5PasswordHasher

    runs = []
    original = MD5PasswordHasher.encode
    monkeypatch.setattr(
        MD5PasswordHasher, "encode", lambda self, *a, **k: runs.append(1) or original(self, *a, **k)
    )

    assert api_login(APIClient(), username="nobody", password=WRONG).status_code == 401
    assert runs, "ModelBackend must hash for unknown users too"


def test_a_locked_account_of_an_unknown_name_does_not_touch_the_database(db, django_assert_num_queries):
    client = APIClient()
    for _ in range(5):
        api_login(client, username="nobody", password=WRONG)

    with django_assert_num_queries(0):
        assert api_login(client, username="nobody", password=WRONG).status_code == 429


def test_the_client_ip_is_limited_across_accounts(make_user, small_ip_limit):
    client = APIClient()
    for name in ("u1", "u2", "u3"):
        assert api_login(client, username=name, password=WRONG).status_code == 401
    make_user("carol")

    response = api_login(client, username="carol")

    assert response.status_code == 429
    # Another address is not affected.
    assert api_login(APIClient(REMOTE_ADDR="203.0.113.9"), username="carol").status_code == 200


def test_a_success_does_not_clear_the_ip_count(alice, small_ip_limit):
    client = APIClient()
    api_login(client, username="x", password=WRONG)
    api_login(client, username="y", password=WRONG)
    assert api_login(client).status_code == 200
    api_login(client, username="z", password=WRONG)

    assert api_login(client, username="w", password=WRONG).status_code == 429


def test_a_forged_forwarded_for_does_not_reset_the_ip_limit(db, small_ip_limit):
    client = APIClient()
    for n in range(3):
        api_login(client, username=f"u{n}", password=WRONG, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")

    response = api_login(client, username="u9", password=WRONG, HTTP_X_FORWARDED_FOR="198.51.100.77")

    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_address_it_wrote_counts(db, settings, small_ip_limit):
    settings.TOKENS_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.TOKENS_TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    client = APIClient()
    # The attacker prepends a different forged address each time; the proxy
    # appends the real one (203.0.113.5), which is what counts.
    for n in range(3):
        api_login(
            client, username=f"u{n}", password=WRONG, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.5", **proxy
        )

    locked = api_login(
        client, username="u9", password=WRONG, HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.5", **proxy
    )
    other = api_login(client, username="u9", password=WRONG, HTTP_X_FORWARDED_FOR="203.0.113.6", **proxy)

    assert locked.status_code == 429
    assert other.status_code == 401
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.THROTTLED, reason="login_ip")
    assert event.ip_address == "203.0.113.5"


def test_ipv6_clients_are_counted_per_network(db, small_ip_limit):
    for n in range(3):
        api_login(APIClient(REMOTE_ADDR=f"2001:db8::{n + 1}"), username=f"u{n}", password=WRONG)

    response = api_login(APIClient(REMOTE_ADDR="2001:db8::ffff"), username="u9", password=WRONG)

    assert response.status_code == 429


def test_locking_is_audited_once_with_the_account(alice):
    client = APIClient()
    for _ in range(8):
        api_login(client, password=WRONG)

    events = AuditEvent.objects.filter(kind=AuditEvent.Kind.THROTTLED)
    assert [(e.reason, e.user) for e in events] == [("login_client", alice)]
    assert events[0].ip_address == "127.0.0.1"


def test_locking_an_unknown_name_is_audited_without_it(db):
    client = APIClient()
    for _ in range(5):
        api_login(client, username="hunter2", password=WRONG)

    event = AuditEvent.objects.get(kind=AuditEvent.Kind.THROTTLED)
    assert event.user is None
    assert "hunter2" not in str(event.detail)


# Password reset ---------------------------------------------------------


def request_reset(client, email):
    return client.post("/accounts/password_reset/", {"email": email})


@pytest.mark.parametrize("email", ["alice@example.com", "nobody@example.com"])
def test_reset_mail_is_limited_per_address_with_the_same_page(alice, email):
    answers = [request_reset(Client(REMOTE_ADDR=f"198.51.100.{n}"), email) for n in range(5)]

    assert {(r.status_code, r["Location"]) for r in answers} == {(302, "/accounts/password_reset/done/")}
    assert len(mail.outbox) == (3 if email.startswith("alice") else 0)


def test_reset_address_limit_ignores_case(alice):
    for email in ("alice@example.com", "ALICE@example.com", "Alice@Example.com", "alice@EXAMPLE.com"):
        request_reset(Client(), email)

    assert len(mail.outbox) == 3


def test_reset_mail_is_limited_per_ip(make_user, settings):
    settings.TOKENS_RESET_IP_RATE = (2, timedelta(hours=1))
    for name in ("a1", "a2", "a3"):
        make_user(name)
    client = Client()
    answers = [request_reset(client, f"{name}@example.com") for name in ("a1", "a2", "a3")]

    assert [r.status_code for r in answers] == [302, 302, 302]
    assert [m.to for m in mail.outbox] == [["a1@example.com"], ["a2@example.com"]]
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.THROTTLED, reason="reset_ip").count() == 1


# Refresh ----------------------------------------------------------------


@pytest.fixture
def ended_refresh(alice) -> str:
    """A refresh token we signed whose session has ended: it verifies, then is
    refused, so it counts (junk that does not verify costs nothing)."""
    client = APIClient()
    assert api_login(client).status_code == 200
    token = client.cookies[REFRESH_COOKIE].value
    assert client.post("/api/auth/logout/").status_code == 200
    return token


def test_refused_refresh_tokens_are_limited_per_ip(ended_refresh, settings):
    settings.TOKENS_REFRESH_IP_RATE = (3, timedelta(minutes=1))
    attacker = APIClient(enforce_csrf_checks=False)
    for _ in range(3):
        attacker.cookies[REFRESH_COOKIE] = ended_refresh
        assert attacker.post("/api/auth/refresh/").status_code == 401

    attacker.cookies[REFRESH_COOKIE] = ended_refresh
    response = attacker.post("/api/auth/refresh/")

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_a_throttled_refresh_does_not_spend_a_good_token(ended_refresh, settings):
    settings.TOKENS_REFRESH_IP_RATE = (1, timedelta(minutes=1))
    client = APIClient()
    assert api_login(client).status_code == 200
    good = client.cookies[REFRESH_COOKIE].value
    client.cookies[REFRESH_COOKIE] = ended_refresh
    client.post("/api/auth/refresh/")

    client.cookies[REFRESH_COOKIE] = good
    assert client.post("/api/auth/refresh/").status_code == 429

    # From another address the same token still works: it was not consumed.
    other = APIClient(REMOTE_ADDR="203.0.113.20")
    other.cookies[REFRESH_COOKIE] = good
    assert other.post("/api/auth/refresh/").status_code == 200


def test_silent_refresh_failures_count_too(ended_refresh, settings):
    settings.TOKENS_REFRESH_IP_RATE = (2, timedelta(minutes=1))
    browser = Client()
    for _ in range(2):
        browser.cookies[REFRESH_COOKIE] = ended_refresh
        assert browser.get("/").status_code == 302

    api = APIClient()
    api.cookies[REFRESH_COOKIE] = ended_refresh
    assert api.post("/api/auth/refresh/").status_code == 429


def test_a_throttled_silent_refresh_keeps_the_browsers_cookies(ended_refresh, settings):
    settings.TOKENS_REFRESH_IP_RATE = (1, timedelta(minutes=1))
    browser = Client()
    assert login(browser).status_code == 302
    good = browser.cookies[REFRESH_COOKIE].value
    del browser.cookies[ACCESS_COOKIE]
    attacker = APIClient()
    attacker.cookies[REFRESH_COOKIE] = ended_refresh
    attacker.post("/api/auth/refresh/")

    response = browser.get("/")

    assert response.status_code == 302  # not signed in while throttled...
    assert REFRESH_COOKIE not in response.cookies  # ...but the token is neither spent nor cleared
    browser.defaults["REMOTE_ADDR"] = "203.0.113.30"
    assert browser.get("/").status_code == 200
    assert browser.cookies[REFRESH_COOKIE].value != good
