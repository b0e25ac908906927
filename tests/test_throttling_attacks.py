"""Attacks on the login, reset and refresh limits, through HTTP.

Each test is named for what an attacker tries; each failed before the fix.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.checks import run_checks
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, login
from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tokens_app.models import AuditEvent

WRONG = "not the password"
PROXY = "10.0.0.1"


def api_login(client, username="alice", password=PASSWORD):
    return client.post("/api/auth/login/", {"username": username, "password": password}, format="json")


def behind_proxy(client_address: str, *, api: bool = True):
    """A client as gunicorn sees it behind the proxy: every request comes from
    the proxy, which appends the client's address to X-Forwarded-For."""
    extra = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": client_address}
    return APIClient(**extra) if api else Client(**extra)


@pytest.fixture
def proxy_header(settings):
    # As an operator writes it in the environment (docs/production.md).
    settings.TOKENS_CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.TOKENS_TRUSTED_PROXY_COUNT = 1


# one client locks everyone out --------------------------------------------------------


def test_junk_refresh_cookies_from_one_client_do_not_stop_anothers_silent_refresh(alice):
    victim = Client()
    assert login(victim).status_code == 302
    del victim.cookies[ACCESS_COOKIE]  # expired: the next page refreshes silently
    attacker = Client()  # same address: no proxy header to tell them apart
    for n in range(40):
        attacker.cookies[REFRESH_COOKIE] = f"junk.{n}.cookie"
        assert attacker.get("/").status_code == 302
    api = APIClient()
    for n in range(40):
        api.cookies[REFRESH_COOKIE] = f"junk.api.{n}"
        assert api.post("/api/auth/refresh/").status_code == 401

    response = victim.get("/")

    assert response.status_code == 200
    assert response.cookies[REFRESH_COOKIE].value
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.THROTTLED).exists()


def test_a_junk_refresh_cookie_costs_no_database_query(db, django_assert_num_queries):
    attacker = APIClient()
    attacker.cookies[REFRESH_COOKIE] = "junk.junk.junk"

    with django_assert_num_queries(0):
        assert attacker.post("/api/auth/refresh/").status_code == 401


def test_behind_the_proxy_one_clients_failed_logins_do_not_block_anothers(proxy_header, make_user):
    make_user("admin", is_staff=True, is_superuser=True)
    attacker = behind_proxy("203.0.113.5")
    for n in range(35):
        api_login(attacker, username=f"user{n}", password=WRONG)
    assert api_login(attacker, username="someone", password=WRONG).status_code == 429

    assert api_login(behind_proxy("203.0.113.6"), username="admin").status_code == 200
    assert login(behind_proxy("203.0.113.7", api=False), "admin").status_code == 302


def test_behind_the_proxy_one_clients_reset_requests_do_not_stop_anothers_mail(proxy_header, alice):
    attacker = behind_proxy("203.0.113.5", api=False)
    for n in range(25):
        attacker.post("/accounts/password_reset/", {"email": f"someone{n}@example.com"})

    response = behind_proxy("203.0.113.6", api=False).post(
        "/accounts/password_reset/", {"email": "alice@example.com"}
    )

    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_without_the_proxy_setting_a_forged_forwarded_for_changes_nothing(make_user, settings):
    settings.TOKENS_LOGIN_IP_RATE = (3, timedelta(minutes=1))
    make_user("carol")
    for n in range(3):
        api_login(APIClient(HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"), username=f"u{n}", password=WRONG)

    forged = api_login(APIClient(HTTP_X_FORWARDED_FOR="198.51.100.99"), username="carol")

    assert forged.status_code == 429
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.THROTTLED, reason="login_ip")
    assert event.ip_address == "127.0.0.1"


def _deploy_ids() -> set[str]:
    return {m.id for m in run_checks(include_deployment_checks=True) if m.id == "tokens_app.W010"}


def test_check_deploy_warns_behind_a_proxy_without_a_client_ip_source(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.TOKENS_CLIENT_IP_HEADER = None
    assert _deploy_ids() == {"tokens_app.W010"}

    settings.TOKENS_CLIENT_IP_HEADER = "X-Forwarded-For"
    assert _deploy_ids() == set()

    settings.SECURE_PROXY_SSL_HEADER = None
    settings.TOKENS_CLIENT_IP_HEADER = None
    assert _deploy_ids() == set()


# five failures from anywhere lock any account -----------------------------------------


def test_a_strangers_failures_do_not_lock_the_account_for_another_client(alice):
    stranger = APIClient(REMOTE_ADDR="198.51.100.1")
    for _ in range(5):
        api_login(stranger, password=WRONG)
    assert api_login(stranger).status_code == 429  # the stranger's own client is locked

    assert api_login(APIClient(REMOTE_ADDR="198.51.100.2")).status_code == 200


def test_a_stranger_cannot_lock_the_owner_out_of_a_browser_that_signed_in_before(alice):
    owner = Client(REMOTE_ADDR="198.51.100.7")
    assert login(owner).status_code == 302
    assert owner.post("/accounts/logout/").status_code == 302
    # A botnet, and a stranger behind the owner's own address (one NAT).
    for n in range(30):
        api_login(APIClient(REMOTE_ADDR=f"203.0.113.{n}"), password=WRONG)
    for _ in range(10):
        api_login(APIClient(REMOTE_ADDR="198.51.100.7"), password=WRONG)
    assert api_login(APIClient(REMOTE_ADDR="192.0.2.1")).status_code == 429  # unknown browsers wait

    assert login(owner).status_code == 302


def test_the_account_as_a_whole_is_limited_for_unknown_browsers(alice):
    for n in range(4):
        stranger = APIClient(REMOTE_ADDR=f"203.0.113.{n}")
        for _ in range(5):
            assert api_login(stranger, password=WRONG).status_code == 401

    response = api_login(APIClient(REMOTE_ADDR="192.0.2.1"))

    assert response.status_code == 429
    assert 3500 <= int(response["Retry-After"]) <= 3600
    locks = AuditEvent.objects.filter(kind=AuditEvent.Kind.THROTTLED, reason="login_account")
    assert [e.user for e in locks] == [alice]


def test_a_known_browser_still_has_only_five_guesses(alice):
    owner = Client()
    assert login(owner).status_code == 302
    for _ in range(5):
        assert login(owner, "alice", WRONG).status_code == 200

    assert login(owner).status_code == 429


@pytest.mark.parametrize("cookie", ["bob", "junk", "tampered"])
def test_another_accounts_or_a_forged_device_cookie_does_not_pass_the_account_lock(alice, bob, cookie):
    browser = Client()
    assert login(browser, "bob").status_code == 302
    value = browser.cookies["known_device"].value
    browser.cookies["known_device"] = {"bob": value, "junk": "junk", "tampered": value[:-3] + "abc"}[cookie]
    for n in range(4):
        for _ in range(5):
            api_login(APIClient(REMOTE_ADDR=f"203.0.113.{n}"), password=WRONG)

    assert login(browser).status_code == 429


def test_admin_spelled_Admin_or_ADMIN_does_not_lock_admin(make_user):
    make_user("admin", is_staff=True, is_superuser=True)
    attacker = APIClient()
    for name in ("Admin", "ADMIN"):
        for _ in range(5):
            assert api_login(attacker, username=name, password=WRONG).status_code == 401

    assert api_login(attacker, username="admin").status_code == 200


def test_the_device_cookie_is_httponly_secure_long_lived_and_survives_logout(alice, settings):
    settings.TOKENS_COOKIE_SECURE = True
    browser = Client()
    signed_in = login(browser)
    cookie = signed_in.cookies["known_device"]

    assert cookie["httponly"] is True
    assert cookie["secure"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert int(cookie["max-age"]) == 365 * 86400
    assert "known_device" not in browser.post("/accounts/logout/").cookies


def test_clear_lockout_also_clears_a_clients_lock_on_the_account(alice):
    from io import StringIO

    from django.core.management import call_command

    client = APIClient(REMOTE_ADDR="198.51.100.9")
    for _ in range(5):
        api_login(client, password=WRONG)
    assert api_login(client).status_code == 429

    call_command("clear_lockout", "alice", stdout=StringIO())

    assert api_login(client).status_code == 200


# parallel guesses beat the limit ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twelve_parallel_wrong_guesses_are_checked_at_most_five_times(django_user_model, monkeypatch):
    django_user_model.objects.create_user(username="alice", password=PASSWORD)
    from django.contrib.auth.backends import ModelBackend

    checked = []
    original = ModelBackend.authenticate
    # SQLite takes one writer at a time: the requests take turns, except
    # while the password is being checked, which is where the race lives.
    turn = threading.Lock()

    def slow_check(self, request, username=None, password=None, **kwargs):
        checked.append(username)
        turn.release()
        time.sleep(0.3)  # every guess is in flight before the first one is counted
        turn.acquire()
        return original(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", slow_check)
    start = threading.Barrier(12)
    statuses = []

    def guess() -> None:
        client = APIClient()
        start.wait()
        with turn:
            statuses.append(api_login(client, password=WRONG).status_code)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(checked) <= 5
    assert sorted(statuses) == [401] * len(checked) + [429] * (12 - len(checked))
    # The slots of the refused guesses were given back, the five failures stay.
    assert api_login(APIClient()).status_code == 429


# usernames go raw into logs and the audit table --------------------------------------


def test_a_newline_in_a_username_forges_no_log_line(db, caplog):
    forged = "x\n2026-12-01 10:00:00,000 INFO tokens_app.audit event=login user_id=1 reason=-"

    with caplog.at_level(logging.INFO, logger="tokens_app"):
        assert api_login(APIClient(), username=forged, password=WRONG).status_code == 401

    lines = [record.getMessage() for record in caplog.records if record.name.startswith("tokens_app")]
    assert lines
    assert all("\n" not in line and "\r" not in line for line in lines)
    assert not any(line.startswith("event=login ") for line in lines)


def test_a_space_in_a_logged_value_forges_no_field(alice, caplog):
    with caplog.at_level(logging.INFO, logger="tokens_app.audit"):
        api_login(APIClient(), username="alice user_id=1", password=WRONG)

    line = next(r.getMessage() for r in caplog.records if "event=login_failed" in r.getMessage())
    assert " user_id=1" not in line.replace("user_id=None", "")


def test_an_unknown_username_is_not_stored_or_logged_in_clear(db, caplog):
    typed = "hunter2-my-password"

    with caplog.at_level(logging.INFO, logger="tokens_app"):
        api_login(APIClient(), username=typed, password=WRONG)
        api_login(APIClient(), username=typed, password=WRONG)

    events = list(AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_FAILED))
    assert len(events) == 2
    assert all(typed not in str(e.detail) and e.user is None for e in events)
    # The same name gives the same keyed hash: repeated attempts still show.
    assert events[0].detail["username_hash"] == events[1].detail["username_hash"]
    assert typed not in caplog.text


def test_a_failed_login_of_an_existing_account_names_it(alice):
    api_login(APIClient(), password=WRONG)

    event = AuditEvent.objects.get(kind=AuditEvent.Kind.LOGIN_FAILED)
    assert event.user == alice
    assert event.detail == {"username": "alice"}
