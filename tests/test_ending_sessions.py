"""Every path that must end a user's sessions does, by raising
``token_version`` by exactly one, without touching anyone else.

Each test logs the user in on a second browser first (``other_device``) and
keeps its refresh token aside; after the path under test, that token must be
refused by the API (401 JSON) and by a page load (redirect to the login page).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.test import Client

from tests.conftest import PASSWORD, signed_in
from tests.forge import ACCESS_COOKIE
from tests.sessions_support import (
    REFRESH,
    api_refresh,
    assert_refresh_accepted,
    assert_refresh_refused,
    browser_with,
    csrf_token_from,
    form_fields,
    refresh_cookie,
    token_version,
    versions,
    without_csrf,
)
from tokens_app import revocation, revocation_check
from tokens_app.models import AuditEvent, LoginSession
from tokens_app.signals import tokens_revoked
from tokens_app.tokens import verify_access, verify_refresh

NEW_PASSWORD = "a new and rather long passphrase 42"


@pytest.fixture
def other_device(alice) -> str:
    """Alice's refresh token on another browser, kept to be presented later."""
    return refresh_cookie(signed_in("alice"))


@pytest.fixture
def bob_device(bob) -> str:
    return refresh_cookie(signed_in("bob"))


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what the request left for on_commit, as the real commit would.

    The test's own transaction never commits, and with immediate revocation
    (a shared cache) the new token_version reaches the cache on commit; the
    same browser's next request checks its fresh access token against it.
    """
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def root(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def root_browser(root) -> Client:
    return signed_in("root")


def assert_only_alice_was_logged_out(alice, bob, other_device: str, bob_device: str, before: dict) -> None:
    assert token_version(alice) == before["alice"] + 1
    assert token_version(bob) == before["bob"]
    # The device rows end too, so the sessions page and API stop listing them.
    assert LoginSession.objects.get(pk=verify_refresh(other_device).sid).revoked_at is not None
    assert not LoginSession.objects.filter(user=bob, revoked_at__isnull=False).exists()
    assert_refresh_refused(other_device)
    assert_refresh_accepted(bob_device)


# --- password reset by email --------------------------------------------------


def reset_link_from_outbox() -> str:
    assert len(mail.outbox) == 1
    match = re.search(r"https?://testserver(/accounts/reset/[^/\s]+/[^/\s]+/)", mail.outbox[0].body)
    assert match, mail.outbox[0].body
    return match.group(1)


def test_password_reset_by_email_logs_out_every_browser(alice, bob, other_device, bob_device):
    before = versions(alice, bob)
    browser = Client()

    assert browser.get("/accounts/password_reset/").status_code == 200
    response = browser.post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    assert browser.get(response["Location"]).status_code == 200
    assert mail.outbox[0].to == ["alice@example.com"]

    link = reset_link_from_outbox()
    form_page = browser.get(link)
    assert form_page.status_code == 200
    assert form_page.context["validlink"] is True
    assert form_page["Referrer-Policy"] == "strict-origin"
    response = browser.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/reset/done/"
    assert browser.get(response["Location"]).status_code == 200

    assert_only_alice_was_logged_out(alice, bob, other_device, bob_device, before)
    assert signed_in("alice", NEW_PASSWORD).cookies[REFRESH].value


def test_password_reset_link_works_only_once(alice):
    browser = Client()
    browser.post("/accounts/password_reset/", {"email": "alice@example.com"})
    link = reset_link_from_outbox()
    first = browser.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert first.status_code == 302
    version = token_version(alice)

    second_page = browser.get(link)
    assert second_page.status_code == 200
    assert second_page.context["validlink"] is False
    assert b"This link no longer works" in second_page.content
    second = browser.post(link, {"new_password1": "yet another passphrase 99", "new_password2": "x"})
    assert second.status_code == 200
    assert second.context["validlink"] is False

    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert token_version(alice) == version


def test_a_reset_link_mailed_before_a_force_logout_no_longer_works(alice):
    Client().post("/accounts/password_reset/", {"email": "alice@example.com"})
    link = reset_link_from_outbox()
    run_force_logout("alice")

    page = Client().get(link)

    assert page.context["validlink"] is False


def test_password_reset_request_answers_the_same_for_known_and_unknown_addresses(alice):
    answers = []
    for address in ("alice@example.com", "nobody@example.com"):
        browser = Client()
        form = browser.get("/accounts/password_reset/")
        posted = browser.post("/accounts/password_reset/", {"email": address})
        done = browser.get(posted["Location"])
        answers.append(
            (
                without_csrf(form.content),
                posted.status_code,
                posted["Location"],
                posted.content,
                sorted(posted.cookies),
                done.status_code,
                without_csrf(done.content),
            )
        )
    assert answers[0] == answers[1]
    assert len(mail.outbox) == 1  # only the real account got a mail


# --- password change ------------------------------------------------------------


def test_password_change_keeps_this_browser_and_logs_out_the_others(
    alice, bob, other_device, bob_device, committed
):
    before = versions(alice, bob)
    browser = signed_in("alice")
    old_here = refresh_cookie(browser)
    assert browser.get("/accounts/password_change/").status_code == 200

    with committed():
        response = browser.post(
            "/accounts/password_change/",
            {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_change/done/"
    fresh_here = refresh_cookie(browser)
    assert fresh_here != old_here

    assert browser.get("/").status_code == 200
    assert browser.get("/accounts/password_change/done/").status_code == 200
    assert_refresh_accepted(fresh_here)
    assert_refresh_refused(old_here)
    assert_only_alice_was_logged_out(alice, bob, other_device, bob_device, before)


# --- password changes outside the site's pages --------------------------------


def test_changepassword_command_logs_out_every_browser(alice, bob, other_device, bob_device, monkeypatch):
    before = versions(alice, bob)
    # Django's changepassword reads the password twice with getpass.getpass().
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)

    call_command("changepassword", "alice", stdout=StringIO())

    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert_only_alice_was_logged_out(alice, bob, other_device, bob_device, before)


def test_set_password_and_save_in_a_shell_logs_out_every_browser(alice, bob, other_device, bob_device):
    before = versions(alice, bob)
    user = get_user_model().objects.get(username="alice")

    user.set_password(NEW_PASSWORD)
    user.save()

    assert_only_alice_was_logged_out(alice, bob, other_device, bob_device, before)


def test_save_without_a_new_password_keeps_sessions(alice, other_device):
    before = token_version(alice)
    user = get_user_model().objects.get(username="alice")
    user.first_name = "Alice"
    user.save()
    assert token_version(alice) == before
    assert_refresh_accepted(other_device)


def test_admin_password_form_logs_out_the_user(root_browser, alice, bob, other_device, bob_device):
    before = versions(alice, bob)
    url = f"/admin/tokens_app/user/{alice.pk}/password/"
    assert root_browser.get(url).status_code == 200

    response = root_browser.post(
        url, {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )

    assert response.status_code == 302, response.content
    assert_only_alice_was_logged_out(alice, bob, other_device, bob_device, before)
    assert root_browser.get("/admin/").status_code == 200


def test_disabling_password_authentication_in_the_admin_logs_out_the_user(
    root_browser, alice, bob, other_device, bob_device
):
    # The admin's "Password-based authentication:
    # disabled" calls set_unusable_password(); no new password is "set".
    before = versions(alice, bob)
    url = f"/admin/tokens_app/user/{alice.pk}/password/"

    response = root_browser.post(url, {"usable_password": "false", "unset-password": "1"})

    assert response.status_code == 302, response.content
    alice.refresh_from_db()
    assert not alice.has_usable_password()
    assert_only_alice_was_logged_out(alice, bob, other_device, bob_device, before)


def test_set_unusable_password_and_save_logs_out_every_browser(alice, bob, other_device, bob_device):
    before = versions(alice, bob)
    user = get_user_model().objects.get(username="alice")

    user.set_unusable_password()
    user.save()

    assert_only_alice_was_logged_out(alice, bob, other_device, bob_device, before)


def test_writing_a_new_password_hash_directly_logs_out_every_browser(alice, bob, other_device, bob_device):
    # Any change of the stored hash counts, however it was made: here a hash
    # copied in from elsewhere, without set_password().
    before = versions(alice, bob)
    user = get_user_model().objects.get(username="alice")

    user.password = bob.password
    user.save()

    assert_only_alice_was_logged_out(alice, bob, other_device, bob_device, before)


def test_saving_the_same_password_hash_keeps_sessions(alice, other_device):
    before = token_version(alice)
    user = get_user_model().objects.get(username="alice")
    user.password = user.password
    user.last_name = "Liddell"
    user.save(update_fields=["password", "last_name"])
    assert token_version(alice) == before
    assert_refresh_accepted(other_device)


def test_upgrading_the_password_hash_at_login_keeps_sessions(alice, other_device, settings):
    # Django re-hashes a correct password under a newer hasher and saves it:
    # the hash changes, the password does not.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    before = token_version(alice)

    signed_in("alice")

    alice.refresh_from_db()
    assert alice.password.startswith("scrypt$")
    assert token_version(alice) == before
    assert_refresh_accepted(other_device)


def test_admin_changing_their_own_password_stays_signed_in_here_only(
    root, root_browser, bob, bob_device, committed
):
    before = versions(root, bob)
    root_elsewhere = refresh_cookie(signed_in("root"))
    old_here = refresh_cookie(root_browser)
    assert root_browser.get("/admin/").status_code == 200

    with committed():
        response = root_browser.post(
            f"/admin/tokens_app/user/{root.pk}/password/",
            {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )

    assert response.status_code == 302, response.content
    assert token_version(root) == before["root"] + 1
    assert token_version(bob) == before["bob"]
    fresh_here = refresh_cookie(root_browser)
    assert fresh_here != old_here
    assert root_browser.get("/admin/").status_code == 200
    assert_refresh_accepted(fresh_here)
    assert_refresh_refused(old_here)
    assert_refresh_refused(root_elsewhere)
    assert_refresh_accepted(bob_device)


# --- deactivation -------------------------------------------------------------------


def test_deactivating_in_code_logs_out_every_browser(alice, bob, other_device, bob_device):
    before = versions(alice, bob)
    user = get_user_model().objects.get(username="alice")
    user.is_active = False
    user.save()

    assert token_version(alice) == before["alice"] + 1
    assert token_version(bob) == before["bob"]
    assert_refresh_refused(other_device, code="user_inactive")
    assert_refresh_accepted(bob_device)


def test_deactivating_with_the_admin_change_form_logs_out_every_browser(
    root_browser, alice, bob, other_device, bob_device
):
    before = versions(alice, bob)
    url = f"/admin/tokens_app/user/{alice.pk}/change/"
    page = root_browser.get(url)
    assert page.status_code == 200
    data = form_fields(page.content, "user_form")
    assert data.pop("is_active") == ["on"]
    data["_save"] = ["Save"]

    response = root_browser.post(url, data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    alice.refresh_from_db()
    assert alice.is_active is False
    assert token_version(alice) == before["alice"] + 1
    assert token_version(bob) == before["bob"]
    assert_refresh_refused(other_device, code="user_inactive")
    assert_refresh_accepted(bob_device)


def test_saving_an_already_inactive_user_does_not_bump_again(alice):
    user = get_user_model().objects.get(username="alice")
    user.is_active = False
    user.save()
    version = token_version(alice)
    user.last_name = "Liddell"
    user.save()
    assert token_version(alice) == version


# --- the admin's force logout -----------------------------------------------------


def test_admin_bulk_action_force_logout_logs_out_the_selected_users(
    root_browser, alice, bob, make_user, other_device, bob_device
):
    carol = make_user("carol")
    carol_device = refresh_cookie(signed_in("carol"))
    before = versions(alice, bob, carol)

    response = root_browser.post(
        "/admin/tokens_app/user/",
        {"action": "force_logout", "_selected_action": [alice.pk, bob.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["2 users were logged out."]
    assert versions(alice, bob, carol) == {
        "alice": before["alice"] + 1,
        "bob": before["bob"] + 1,
        "carol": before["carol"],
    }
    assert_refresh_refused(other_device)
    assert_refresh_refused(bob_device)
    assert_refresh_accepted(carol_device)


def test_admin_bulk_action_is_offered_as_force_logout(root_browser, alice):
    page = root_browser.get("/admin/tokens_app/user/")
    choices = dict(page.context["action_form"].fields["action"].choices)
    assert choices["force_logout"] == "Force logout selected users"


def test_admin_force_logout_button_posts_with_csrf(root, alice, bob, other_device, bob_device):
    before = versions(alice, bob)
    admin = Client(enforce_csrf_checks=True)
    login_page = admin.get("/accounts/login/")
    admin.post(
        "/accounts/login/",
        {
            "username": "root",
            "password": PASSWORD,
            "csrfmiddlewaretoken": csrf_token_from(login_page.content),
        },
    )
    page = admin.get(f"/admin/tokens_app/user/{alice.pk}/change/")
    assert page.status_code == 200
    button = f'action="/admin/tokens_app/user/{alice.pk}/force-logout/"'
    assert button.encode() in page.content
    url = f"/admin/tokens_app/user/{alice.pk}/force-logout/"

    assert admin.get(url).status_code == 405
    assert admin.post(url).status_code == 403  # no CSRF token
    assert token_version(alice) == before["alice"]

    response = admin.post(url, {"csrfmiddlewaretoken": csrf_token_from(page.content)}, follow=True)

    assert response.redirect_chain[0] == (f"/admin/tokens_app/user/{alice.pk}/change/", 302)
    assert [str(m) for m in response.context["messages"]] == ["1 user was logged out."]
    assert_only_alice_was_logged_out(alice, bob, other_device, bob_device, before)


@pytest.fixture
def viewer(make_user):
    """A staff member who may look at users but not change them."""
    user = make_user("viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_user"))
    return user


def test_force_logout_needs_the_change_permission(viewer, alice, other_device):
    before = token_version(alice)
    staff = signed_in("viewer")
    assert staff.get(f"/admin/tokens_app/user/{alice.pk}/change/").status_code == 200

    button = staff.post(f"/admin/tokens_app/user/{alice.pk}/force-logout/")
    assert button.status_code == 403

    changelist = staff.get("/admin/tokens_app/user/")
    action_form = changelist.context["action_form"]  # None when no action is allowed at all
    assert "force_logout" not in (dict(action_form.fields["action"].choices) if action_form else {})
    action = staff.post("/admin/tokens_app/user/", {"action": "force_logout", "_selected_action": [alice.pk]})
    assert action.status_code in (200, 302)

    assert token_version(alice) == before
    assert_refresh_accepted(other_device)


def test_forcing_out_a_staff_member_ends_their_admin_access_at_the_next_request(root, root_browser):
    assert root_browser.get("/admin/").status_code == 200

    call_command("force_logout", "root", stdout=StringIO())

    # The access token has not expired, but the admin loads the user from the
    # database and the stale token_version turns them anonymous.
    response = root_browser.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert response.cookies[REFRESH].value == ""
    assert root_browser.get("/admin/tokens_app/user/").status_code == 302


# --- log out everywhere -----------------------------------------------------------


def test_log_out_everywhere_button_ends_every_session_and_clears_cookies(
    alice, bob, other_device, bob_device
):
    before = versions(alice, bob)
    browser = signed_in("alice")
    here = refresh_cookie(browser)
    assert b'action="/accounts/logout/all/"' in browser.get("/").content

    response = browser.post("/accounts/logout/all/")

    assert response.status_code == 302
    # Via the hop that says so (Clear-Site-Data drops this response's own cookies).
    assert response["Location"] == "/accounts/logout/done/?everywhere=1"
    assert response.cookies[REFRESH].value == ""
    assert response.cookies[ACCESS_COOKIE].value == ""
    assert browser.get("/").status_code == 302
    assert_refresh_refused(here)
    assert_only_alice_was_logged_out(alice, bob, other_device, bob_device, before)


def test_log_out_everywhere_needs_post_and_a_signed_in_user(alice, other_device):
    browser = signed_in("alice")
    assert browser.get("/accounts/logout/all/").status_code == 405
    anonymous = Client().post("/accounts/logout/all/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    assert token_version(alice) == 0
    assert_refresh_accepted(other_device)


def test_api_logout_all_ends_every_session_and_clears_cookies(alice, bob, other_device, bob_device):
    before = versions(alice, bob)
    browser = Client()
    assert browser.post("/api/auth/login/", {"username": "alice", "password": PASSWORD}).status_code == 200
    here = refresh_cookie(browser)

    response = browser.post("/api/auth/logout-all/")

    assert response.status_code == 200
    assert response.json() == {"detail": "Logged out on all devices."}
    assert response.cookies[REFRESH].value == ""
    assert_refresh_refused(here)
    assert_only_alice_was_logged_out(alice, bob, other_device, bob_device, before)


def test_api_logout_all_without_a_session_is_401(alice):
    response = Client().post("/api/auth/logout-all/")
    assert response.status_code == 401
    assert token_version(alice) == 0


# --- the force_logout command ---------------------------------------------------------


def run_force_logout(*args) -> str:
    out = StringIO()
    call_command("force_logout", *args, stdout=out)
    return out.getvalue()


def test_force_logout_command_logs_out_the_named_users(alice, bob, make_user, other_device, bob_device):
    carol = make_user("carol")
    before = versions(alice, bob, carol)

    output = run_force_logout("alice", "carol")

    assert "Logged out 2 user(s)." in output
    assert versions(alice, bob, carol) == {
        "alice": before["alice"] + 1,
        "bob": before["bob"],
        "carol": before["carol"] + 1,
    }
    assert_refresh_refused(other_device)
    assert_refresh_accepted(bob_device)


def test_force_logout_command_with_an_unknown_username_changes_nothing(alice, bob, other_device):
    before = versions(alice, bob)
    events = AuditEvent.objects.count()

    with pytest.raises(CommandError, match="Unknown username\\(s\\): mallory"):
        run_force_logout("alice", "mallory")

    assert versions(alice, bob) == before
    assert AuditEvent.objects.count() == events
    assert LoginSession.objects.filter(revoked_at__isnull=False).count() == 0
    assert_refresh_accepted(other_device)


@pytest.mark.parametrize("args", [(), ("alice", "--all")])
def test_force_logout_command_needs_usernames_or_all_but_not_both(alice, args):
    with pytest.raises(CommandError, match="--all"):
        run_force_logout(*args)
    assert token_version(alice) == 0


def test_force_logout_command_all_logs_out_everyone(alice, bob, other_device, bob_device):
    before = versions(alice, bob)

    output = run_force_logout("--all")

    assert "Logged out 2 user(s)." in output
    assert versions(alice, bob) == {"alice": before["alice"] + 1, "bob": before["bob"] + 1}
    assert_refresh_refused(other_device)
    assert_refresh_refused(bob_device)


# --- the counter itself -------------------------------------------------------------------


def test_a_stale_user_instance_cannot_write_the_old_version_back(alice, other_device):
    stale = get_user_model().objects.get(username="alice")
    revocation.bump_token_version(alice, reason="test")
    stale.first_name = "Alice"
    stale.save()
    assert token_version(alice) == 1
    assert_refresh_refused(other_device)


def test_two_bumps_from_stale_instances_give_two(alice):
    first = get_user_model().objects.get(pk=alice.pk)
    second = get_user_model().objects.get(pk=alice.pk)
    assert revocation.bump_token_version(first, reason="one") == 1
    assert revocation.bump_token_version(second, reason="two") == 2
    assert token_version(alice) == 2


def _bump_waiting_for_the_lock(user) -> int:
    """PostgreSQL makes the second UPDATE wait for the first one's row lock.
    SQLite's shared in-memory test database refuses it at once ("table is
    locked") and rolls that transaction back whole; waiting and retrying is
    what the lock would have done."""
    for _ in range(200):
        try:
            return revocation.bump_token_version(user, reason="concurrent")
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.01)
    raise AssertionError("the other bump never released its lock")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_bumps_give_two(make_user):
    user = make_user("alice")
    start = threading.Barrier(2)
    results, errors = [], []

    def bump():
        try:
            # Both threads hold an instance read at version 0 before either bumps.
            mine = get_user_model().objects.get(pk=user.pk)
            start.wait(timeout=5)
            results.append(_bump_waiting_for_the_lock(mine))
        except Exception as exc:  # reported below: a lost update must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=bump) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert errors == []
    assert sorted(results) == [1, 2]
    assert token_version(user) == 2
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REVOKED, user=user).count() == 2


# --- signal and audit trail ------------------------------------------------------------------


def test_ending_sessions_sends_tokens_revoked_and_writes_an_audit_event(root, root_browser, alice, caplog):
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    tokens_revoked.connect(receiver)
    try:
        browser = signed_in("alice")
        tokens = [browser.cookies[REFRESH].value, browser.cookies[ACCESS_COOKIE].value]
        with caplog.at_level(logging.INFO, logger="tokens_app"):
            root_browser.post(f"/admin/tokens_app/user/{alice.pk}/force-logout/")
    finally:
        tokens_revoked.disconnect(receiver)

    assert len(received) == 1
    assert received[0]["user"].pk == alice.pk
    assert received[0]["reason"] == "force_logout"
    assert received[0]["actor"].pk == root.pk
    assert received[0]["version"] == 1

    event = AuditEvent.objects.get(kind=AuditEvent.Kind.REVOKED)
    assert (event.user_id, event.actor_id, event.reason) == (alice.pk, root.pk, "force_logout")
    audit_lines = [r.getMessage() for r in caplog.records if r.name == "tokens_app.audit"]
    assert any(
        f"user_id={alice.pk}" in line and f"actor_id={root.pk}" in line and "reason=force_logout" in line
        for line in audit_lines
    ), audit_lines
    for token in tokens:
        assert token not in caplog.text
        assert token not in str(event.detail)


def test_reason_and_actor_are_recorded_for_each_path(alice):
    browser = signed_in("alice")
    browser.post("/accounts/logout/all/")
    user = get_user_model().objects.get(pk=alice.pk)
    user.set_password(NEW_PASSWORD)
    user.save()
    run_force_logout("alice")

    rows = list(
        AuditEvent.objects.filter(kind=AuditEvent.Kind.REVOKED)
        .order_by("id")
        .values_list("reason", "user_id", "actor_id")
    )
    assert rows == [
        ("logout_all", alice.pk, alice.pk),
        ("password_changed", alice.pk, None),
        ("force_logout_command", alice.pk, None),
    ]


def test_refused_refresh_after_force_logout_redirects_pages_to_login(alice, other_device):
    run_force_logout("alice")
    response = browser_with(other_device).get("/accounts/sessions/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/sessions/"
    assert api_refresh(other_device).json()["code"] == "token_revoked"


# --- how fast a revocation takes effect (the README's claims) ---------------------------------------


def test_without_immediate_revocation_an_issued_access_token_lives_until_it_expires(alice, settings):
    settings.TOKENS_IMMEDIATE_REVOCATION = False
    browser = signed_in("alice")
    access = verify_access(browser.cookies[ACCESS_COOKIE].value)
    assert access.exp - access.iat == 5 * 60  # ACCESS_TOKEN_EXPIRY

    run_force_logout("alice")

    # A page that needs only who the user is still answers from the token...
    assert browser.get("/").status_code == 200
    # ...but anything that loads the user re-checks token_version at once.
    assert browser.get("/api/auth/me/").status_code == 401
    # Once the access token is gone (expired), the refresh is refused.
    del browser.cookies[ACCESS_COOKIE]
    response = browser.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_with_immediate_revocation_the_next_request_is_refused(alice, settings, committed):
    settings.TOKENS_IMMEDIATE_REVOCATION = True
    browser = signed_in("alice")
    assert browser.get("/").status_code == 200

    with committed():
        run_force_logout("alice")

    response = browser.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"
    assert response.cookies[ACCESS_COOKIE].value == ""
    assert signed_in("alice").get("/").status_code == 200


def test_a_version_read_that_races_a_bump_does_not_overwrite_the_cache(
    alice, settings, committed, monkeypatch
):
    settings.TOKENS_IMMEDIATE_REVOCATION = True
    stale_browser = signed_in("alice")
    # A cold cache reads the version and the device session in one query.
    read_from_database = revocation_check._read_database

    def read_then_bump(claims):
        found = read_from_database(claims)  # version 0, read just before...
        with committed():
            run_force_logout("alice")  # ...the bump commits and writes 1 through
        return found

    monkeypatch.setattr(revocation_check, "_read_database", read_then_bump)
    stale_browser.get("/")  # the cache miss that raced the bump
    monkeypatch.undo()

    # The stale read did not replace the newer version: new logins work,
    # the old browser is refused.
    assert signed_in("alice").get("/").status_code == 200
    assert stale_browser.get("/").status_code == 302
