"""Immediate revocation: the very next request with an old access token is refused.

Runs on both legs: the local-memory cache (where the bump writes through to
this process's cache) and Redis (shared by every app server). Steady state
costs no SQL at all; only a cache miss reads token_version, once.
"""

from __future__ import annotations

import copy
import io
import re
import time

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client, override_settings

from tests.conftest import clear_cache, login
from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tokens_app import revocation_check

NEW_PASSWORD = "an entirely new passphrase 42"


@pytest.fixture(autouse=True)
def _immediate_revocation(settings):
    settings.TOKENS_IMMEDIATE_REVOCATION = True


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run ``revoke`` as if its transaction committed: the test's own wrapping
    transaction never does, and the cache write-through is an on-commit hook."""

    def run(revoke, user) -> None:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            revoke(user)
        assert callbacks, "the revocation registered no write-through"

    return run


def _force_logout(alice) -> None:
    call_command("force_logout", "alice", stdout=io.StringIO())


def _password_reset(alice) -> None:
    client = Client()
    client.post("/accounts/password_reset/", {"email": alice.email})
    link = re.search(r"/accounts/reset/[^/\s]+/[^/\s]+/", mail.outbox[-1].body).group(0)
    response = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302, response.content
    assert response["Location"] == "/accounts/reset/done/"


def _logout_all_from_another_device(alice) -> None:
    other = Client()
    assert login(other).status_code == 302
    response = other.post("/accounts/logout/all/")
    assert response.status_code == 302


REVOCATIONS = pytest.mark.parametrize(
    "revoke",
    [_force_logout, _password_reset, _logout_all_from_another_device],
    ids=["force_logout", "password_reset", "logout_all"],
)


@REVOCATIONS
def test_old_access_cookie_is_refused_on_the_next_page_after_revocation(
    alice, alice_client, revoke, committed
):
    assert alice_client.get("/").status_code == 200  # the cache now holds the current version

    committed(revoke, alice)
    response = alice_client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    # Refused for being revoked: the cookies are cleared, not silently refreshed.
    assert response.cookies[ACCESS_COOKIE].value == ""
    assert response.cookies[REFRESH_COOKIE].value == ""


@REVOCATIONS
def test_old_access_cookie_is_refused_by_the_api_after_revocation(alice, alice_client, revoke, committed):
    assert alice_client.get("/api/auth/me/").status_code == 200

    committed(revoke, alice)
    response = alice_client.get("/api/auth/me/")

    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_without_immediate_revocation_the_old_access_cookie_lives_until_it_expires(
    settings, alice, alice_client
):
    # The contrast that shows the setting is what refuses the token above.
    settings.TOKENS_IMMEDIATE_REVOCATION = False
    call_command("force_logout", "alice", stdout=io.StringIO())

    # A page that needs nothing beyond the token still renders; anything that
    # loads the user (or a refresh) sees the new version.
    assert alice_client.get("/").status_code == 200
    assert alice_client.post("/api/auth/refresh/").json()["code"] == "token_revoked"


def test_steady_state_page_request_makes_no_sql_query(alice_client, django_assert_num_queries):
    alice_client.get("/")  # fills the cache

    with django_assert_num_queries(0):
        response = alice_client.get("/")

    assert response.status_code == 200
    assert b"Hello, alice" in response.content


def test_first_request_after_a_cache_miss_reads_token_version_once(alice_client, django_assert_num_queries):
    clear_cache()

    with django_assert_num_queries(1) as captured:
        assert alice_client.get("/").status_code == 200
    assert "token_version" in captured.captured_queries[0]["sql"]

    with django_assert_num_queries(0):
        assert alice_client.get("/").status_code == 200


def test_steady_state_api_request_adds_no_query_for_authentication(alice_client, django_assert_num_queries):
    alice_client.get("/api/auth/me/")

    # The one query is the view's own: /me/ returns the email, which the token
    # does not carry. Authentication and the revocation check cost nothing.
    with django_assert_num_queries(1) as captured:
        response = alice_client.get("/api/auth/me/")

    assert response.status_code == 200
    assert response.json()["user"]["email"] == "alice@example.com"
    assert 'FROM "tokens_app_user"' in captured.captured_queries[0]["sql"]


def _version_key(user) -> str:
    return f"tokens:ver:{user.pk}"


def test_a_cached_version_older_than_the_token_is_repaired_not_obeyed(alice, committed):
    # A bump whose write-through was lost (the cache was down at that moment)
    # leaves the old version cached. Fresh sessions carry the new one, and
    # must not be signed out for it.
    committed(_force_logout, alice)
    client = Client()
    assert login(client).status_code == 302
    cache.set(_version_key(alice), 0)

    page = client.get("/")

    assert page.status_code == 200
    assert cache.get(_version_key(alice)) == 1


@pytest.mark.parametrize("miss", ["version-only", "version-and-session"])
def test_filling_the_cache_never_overwrites_a_newer_write_through(alice, alice_client, monkeypatch, miss):
    # A bump commits and writes through between this request's database read
    # and its cache fill: the newer version must survive the fill. A miss of
    # the version alone reads it alone; a cold cache reads the version and
    # the session in one query (revocation_check._read_database).
    alice_client.get("/")  # caches the version and the session marker
    if miss == "version-only":
        read, name = revocation_check._database_version, "_database_version"
        cache.delete(_version_key(alice))
    else:
        read, name = revocation_check._read_database, "_read_database"
        clear_cache()

    def read_then_bump_elsewhere(*args):
        found = read(*args)
        version = found if miss == "version-only" else found[0]
        cache.set(_version_key(alice), version + 1)
        return found

    monkeypatch.setattr(revocation_check, name, read_then_bump_elsewhere)

    alice_client.get("/")

    assert cache.get(_version_key(alice)) == 1


def _worker(name: str):
    """The default cache as one worker process sees it: its own local memory."""
    return override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": name}}
    )


def test_with_a_local_cache_another_worker_refuses_an_old_access_token_within_30_seconds(
    alice, alice_client, committed, monkeypatch
):
    # The bound docs/production.md states for TOKENS_IMMEDIATE_REVOCATION
    # forced on without a shared cache. Two "workers" are two local caches.
    def browser() -> Client:  # the same cookies on every request, as a copied token would be
        client = Client()
        client.cookies = copy.deepcopy(alice_client.cookies)
        return client

    start = time.time()
    with _worker("worker-b"):
        assert browser().get("/").status_code == 200  # B caches version 0
    with _worker("worker-a"):
        committed(_force_logout, alice)  # A writes version 1 to its own cache
        assert browser().get("/").status_code == 302  # A refuses at once

    with _worker("worker-b"):
        monkeypatch.setattr(time, "time", lambda: start + 29)
        assert browser().get("/").status_code == 200  # B still trusts its copy
        monkeypatch.setattr(time, "time", lambda: start + 31)
        page = browser().get("/")

    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")
