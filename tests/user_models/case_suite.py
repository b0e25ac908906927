"""The same stories for every supported user model.

AUTH_USER_MODEL cannot change inside a process (models, relations and
migrations are built from it once), so tests/test_user_models.py runs this
file in a pytest of its own per settings module in this directory, with
TOKENS_CASE_USER_MODEL naming the model it expects.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import PASSWORD
from tests.sessions_support import (
    assert_refresh_accepted,
    assert_refresh_refused,
    refresh_cookie,
)
from tokens_app import revocation, versions

pytestmark = pytest.mark.django_db

_TRANSACTION_CONTROL = re.compile(r"^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)\b", re.IGNORECASE)


def current_version(user) -> int:
    User = get_user_model()
    return versions.of(User._default_manager.select_related(*versions.joined()).get(pk=user.pk))


def force_logout(username: str = "alice") -> None:
    call_command("force_logout", username, stdout=io.StringIO())


def test_the_project_runs_with_the_expected_user_model():
    assert get_user_model()._meta.label == os.environ["TOKENS_CASE_USER_MODEL"]


def test_the_migrations_match_the_models():
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_form_login_signs_the_browser_in(alice_client):
    response = alice_client.get("/")
    assert response.status_code == 200
    assert b"Hello, alice" in response.content


def test_api_login_sets_the_cookies_and_me_answers_the_user(alice, client):
    response = client.post(
        "/api/auth/login/", {"username": "alice", "password": PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    me = client.get("/api/auth/me/")
    assert me.status_code == 200
    assert me.json()["user"]["username"] == "alice"


def test_a_refresh_rotates_the_refresh_token(alice_client):
    old = refresh_cookie(alice_client)
    new = assert_refresh_accepted(old)
    assert new
    assert new != old


def test_force_logout_ends_every_session_and_the_refresh_is_refused(alice, alice_client):
    refresh = refresh_cookie(alice_client)
    force_logout()
    assert current_version(alice) == 1
    assert_refresh_refused(refresh)


def test_each_bump_adds_one_from_the_first(alice, bob):
    force_logout()
    force_logout()
    assert current_version(alice) == 2
    assert current_version(bob) == 0


def test_a_stale_save_never_writes_the_old_version_back(alice, alice_client):
    refresh = refresh_cookie(alice_client)
    stale = get_user_model()._default_manager.get(pk=alice.pk)
    force_logout()
    stale.first_name = "Alice"
    stale.save()
    stale.save(update_fields=["first_name", *(["token_version"] if versions.on_user_model() else [])])
    assert current_version(alice) == 1
    assert get_user_model()._default_manager.get(pk=alice.pk).first_name == "Alice"
    assert_refresh_refused(refresh)


def test_after_a_force_logout_a_new_login_works(alice, alice_client, client):
    force_logout()
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert_refresh_accepted(refresh_cookie(client))


def test_a_forced_out_user_loses_what_loads_the_user_at_once(settings, alice, alice_client):
    settings.TOKENS_IMMEDIATE_REVOCATION = False
    force_logout()
    assert alice_client.get("/api/auth/me/").status_code == 401


def test_a_password_change_keeps_this_browser_signed_in_and_ends_the_others(alice, client, alice_client):
    other = refresh_cookie(alice_client)
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a new long passphrase",
            "new_password2": "a new long passphrase",
        },
    )
    assert response.status_code == 302, response.content
    assert current_version(alice) == 1
    assert client.get("/api/auth/me/").status_code == 200
    assert_refresh_accepted(refresh_cookie(client))
    assert_refresh_refused(other)


@pytest.mark.parametrize("immediate_revocation", [False, True])
def test_an_authenticated_page_request_costs_no_sql(
    settings, alice_client, django_assert_num_queries, immediate_revocation
):
    settings.TOKENS_IMMEDIATE_REVOCATION = immediate_revocation
    assert alice_client.get("/").status_code == 200  # with immediate revocation: reads the version once
    with django_assert_num_queries(0):
        response = alice_client.get("/")
    assert b"Hello, alice" in response.content


def test_a_refresh_runs_two_statements(alice, alice_client):
    force_logout()  # a version row exists (one-to-one case) or the field is 1
    alice_client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    with CaptureQueriesContext(connection) as captured:
        response = alice_client.post("/api/auth/refresh/")
    assert response.status_code == 200, response.content
    sql = [q["sql"] for q in captured.captured_queries if not _TRANSACTION_CONTROL.match(q["sql"])]
    # The locked read of the session joined to its user (and version row), and the rotation's update.
    assert [s.split()[0] for s in sql] == ["SELECT", "UPDATE"], sql
    if not versions.on_user_model():
        assert "tokens_app_usertokenversion" in sql[0]


def test_a_refresh_of_a_never_bumped_user_runs_two_statements(alice_client):
    with CaptureQueriesContext(connection) as captured:
        response = alice_client.post("/api/auth/refresh/")
    assert response.status_code == 200, response.content
    sql = [q["sql"] for q in captured.captured_queries if not _TRANSACTION_CONTROL.match(q["sql"])]
    assert [s.split()[0] for s in sql] == ["SELECT", "UPDATE"], sql


# --- the test helpers and Django's own login(), for this user model --------------------------


def test_the_test_helper_signs_a_client_in(tokens_client, tokens_user):
    response = tokens_client.get("/api/auth/me/")
    assert response.status_code == 200
    assert response.json()["user"]["username"] == tokens_user.get_username()


def test_the_stock_admin_login_page_sets_our_cookies_and_opens_the_admin(django_sessions, admin_user):
    client = Client()
    response = client.post(
        "/stock-admin/login/", {"username": "admin", "password": "password", "next": "/admin/"}
    )
    assert response.status_code == 302, response.content
    assert response.cookies["access_token"].value
    assert client.get("/admin/").status_code == 200
    refresh = refresh_cookie(client)
    force_logout("admin")
    assert_refresh_refused(refresh)


def test_pytest_django_admin_client_works_with_django_sessions(django_sessions, admin_client):
    assert admin_client.get("/admin/").status_code == 200


def _bump_waiting_for_the_lock(user) -> int:
    """PostgreSQL makes the second bump wait for the first one's lock (for a
    version row: its INSERT). SQLite's shared in-memory test database refuses
    at once ("table is locked") and rolls back whole; retrying is the wait."""
    for _ in range(200):
        try:
            return revocation.bump_token_version(user, reason="concurrent")
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.01)
    raise AssertionError("the other bump never released its lock")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_first_bumps_give_two(make_user):
    # The one-to-one case creates the row on the first bump: two first bumps
    # at once must neither fail nor lose an increment.
    user = make_user("carol")
    start = threading.Barrier(2)
    results, errors = [], []

    def bump():
        try:
            mine = get_user_model()._default_manager.get(pk=user.pk)
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
    assert current_version(user) == 2
