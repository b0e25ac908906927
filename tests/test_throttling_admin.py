"""Admins see locked accounts and throttling events, and clear lockouts."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, login
from tokens_app.models import AuditEvent


@pytest.fixture(autouse=True)
def _five_failures_lock_the_account(settings):
    # The account-wide lock (for browsers that never signed in to it) at the
    # per-client lock's size, so one stranger's five failures reach both.
    settings.TOKENS_LOGIN_ACCOUNT_RATE = (5, timedelta(minutes=5))


def lock(username: str) -> None:
    client = APIClient(REMOTE_ADDR="198.51.100.50")
    for _ in range(5):
        client.post("/api/auth/login/", {"username": username, "password": "wrong"}, format="json")


def can_log_in(username: str) -> int:
    return (
        APIClient()
        .post("/api/auth/login/", {"username": username, "password": PASSWORD}, format="json")
        .status_code
    )


@pytest.fixture
def root_browser(make_user) -> Client:
    make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    assert login(client, "root").status_code == 302
    return client


def test_the_user_list_filters_and_marks_locked_accounts(root_browser, alice, bob, make_user):
    make_user("carol")
    lock("alice")
    lock("carol")
    call_command("clear_lockout", "carol", stdout=StringIO())

    page = root_browser.get("/admin/tokens_app/user/", {"locked_out": "yes"})

    assert page.status_code == 200
    shown = [user.username for user in page.context["cl"].result_list]
    assert shown == ["alice"]
    assert "locked for 5 minutes" in page.content.decode()


def test_the_change_page_shows_the_lockout(root_browser, alice):
    lock("alice")

    page = root_browser.get(f"/admin/tokens_app/user/{alice.pk}/change/")

    assert page.status_code == 200
    assert "locked for 5 minutes" in page.content.decode()
    assert "Force logout" in page.content.decode()


def test_the_admin_action_clears_a_lockout(root_browser, alice, bob):
    lock("alice")
    assert can_log_in("alice") == 429

    response = root_browser.post(
        "/admin/tokens_app/user/",
        {"action": "clear_lockout", "_selected_action": [alice.pk, bob.pk]},
        follow=True,
    )

    assert "1 locked account was unlocked." in response.content.decode()
    assert can_log_in("alice") == 200
    cleared = AuditEvent.objects.filter(kind=AuditEvent.Kind.LOCKOUT_CLEARED).order_by("user__username")
    assert [(e.user, e.actor.username, e.detail["was_locked"]) for e in cleared] == [
        (alice, "root", True),
        (bob, "root", False),
    ]


def test_throttling_events_are_listed_in_the_audit_admin(root_browser, alice):
    lock("alice")

    page = root_browser.get("/admin/tokens_app/auditevent/", {"kind__exact": "throttled"})

    assert page.status_code == 200
    rows = sorted(page.context["cl"].result_list, key=lambda e: e.reason)
    assert [(e.kind, e.user, e.reason, e.ip_address) for e in rows] == [
        ("throttled", alice, "login_account", "198.51.100.50"),
        ("throttled", alice, "login_client", "198.51.100.50"),
    ]


def test_the_clear_lockout_command_unlocks_an_account(alice):
    lock("alice")
    out = StringIO()

    call_command("clear_lockout", "alice", stdout=out)

    assert "alice: was locked, now cleared." in out.getvalue()
    assert can_log_in("alice") == 200


def test_the_clear_lockout_command_clears_an_ip(make_user, settings):
    settings.TOKENS_LOGIN_IP_RATE = (2, 60)
    make_user("carol")
    client = APIClient(REMOTE_ADDR="198.51.100.7")
    for name in ("x", "y"):
        client.post("/api/auth/login/", {"username": name, "password": "wrong"}, format="json")
    carol = {"username": "carol", "password": PASSWORD}
    assert client.post("/api/auth/login/", carol, format="json").status_code == 429

    call_command("clear_lockout", "--ip", "198.51.100.7", stdout=StringIO())

    assert client.post("/api/auth/login/", carol, format="json").status_code == 200


def test_the_clear_lockout_command_refuses_unknown_names(alice):
    with pytest.raises(CommandError, match="Unknown username"):
        call_command("clear_lockout", "alice", "nobody", stdout=StringIO())
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.LOCKOUT_CLEARED).exists()
