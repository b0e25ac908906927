"""With immediate revocation, an ended device stays
ended whatever happens to the cache or the rows behind it.

Ending one device used to be only a cache entry, and a missing entry read as
"still active": after the admin deleted the session row, after the user was
deleted, or after the cache was flushed or evicted the entry, the ended
device's access token was accepted again. Now a miss reads the session from
the database (one query, then cached), and deleting a row ends its device.

Runs on both legs (local memory and Redis). "Flushing" empties exactly this
test run's keys (tests/conftest.py: clear_cache), which is what FLUSHDB does
as far as the app can tell, without touching anything else in the database.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests import conftest
from tests.conftest import clear_cache
from tests.forge import ACCESS_COOKIE
from tests.sessions_support import refresh_claims
from tokens_app.models import LoginSession


@pytest.fixture(autouse=True)
def _immediate_revocation(settings):
    settings.TOKENS_IMMEDIATE_REVOCATION = True


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """What the request left for on_commit (the cache write-through) runs, as
    the real commit would; the test's own transaction never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def root(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


def signed_in(username: str = "alice", user_agent: str = "phone") -> Client:
    return conftest.signed_in(username, user_agent=user_agent)


def session_of(client: Client) -> LoginSession:
    return LoginSession.objects.get(pk=refresh_claims(client).sid)


def access_token(client: Client) -> str:
    """The device's access cookie, as a thief who copied it holds it."""
    return client.cookies[ACCESS_COOKIE].value


def with_access(token: str) -> Client:
    """A client presenting ``token`` alone, afresh each time (a refused
    answer clears the cookie from a client's jar; a thief re-sends it), with
    no refresh cookie to fall back on: only the access check answers."""
    client = Client()
    client.cookies[ACCESS_COOKIE] = token
    return client


def assert_accepted(token: str) -> None:
    assert with_access(token).get("/").status_code == 200


def assert_refused(token: str) -> None:
    page = with_access(token).get("/")
    assert page.status_code == 302
    assert page["Location"] == "/accounts/login/?next=/"
    assert with_access(token).get("/api/auth/me/").status_code == 401


def test_flushing_the_cache_does_not_revive_an_ended_device(alice, committed):
    phone, laptop = signed_in(), signed_in(user_agent="laptop")
    stolen = access_token(phone)
    assert_accepted(stolen)
    with committed():
        assert laptop.delete(f"/api/auth/sessions/{session_of(phone).pk}/").status_code == 204
    assert_refused(stolen)

    clear_cache()  # FLUSHDB, an eviction, a restart without persistence

    assert_refused(stolen)
    assert laptop.get("/").status_code == 200


def test_admin_deleting_a_live_session_row_ends_that_device(alice, root, committed):
    phone = signed_in()
    stolen = access_token(phone)
    assert_accepted(stolen)  # cached as live
    admin = signed_in("root", user_agent="admin")

    with committed():
        session_of(phone).delete()  # what the admin's "Delete" did; see below

    assert_refused(stolen)
    assert admin.get("/admin/").status_code == 200


def test_deleting_the_user_ends_every_device_even_with_warm_caches(alice, bob, root, committed):
    phone, bobs = signed_in(), signed_in("bob")
    stolen = access_token(phone)
    assert_accepted(stolen)  # version and session cached
    admin = signed_in("root", user_agent="admin")

    with committed():
        response = admin.post(f"/admin/tokens_app/user/{alice.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content
    assert not LoginSession.objects.filter(user_id=alice.pk).exists()

    assert_refused(stolen)
    clear_cache()
    assert_refused(stolen)
    assert bobs.get("/").status_code == 200


def test_a_cache_miss_on_the_session_costs_one_query_then_none(alice, django_assert_num_queries):
    phone = access_token(signed_in())
    assert_accepted(phone)
    clear_cache()

    with django_assert_num_queries(1):
        assert_accepted(phone)
    with django_assert_num_queries(0):
        assert_accepted(phone)


def test_the_admin_offers_revoke_not_delete_for_sessions(alice, root):
    phone = signed_in()
    admin = signed_in("root", user_agent="admin")
    session = session_of(phone)

    listing = admin.get("/admin/tokens_app/loginsession/")
    change = admin.get(f"/admin/tokens_app/loginsession/{session.pk}/change/")
    delete = admin.post(f"/admin/tokens_app/loginsession/{session.pk}/delete/", {"post": "yes"})
    bulk = admin.post(
        "/admin/tokens_app/loginsession/",
        {"action": "delete_selected", "_selected_action": [str(session.pk)], "post": "yes"},
    )

    assert b'value="revoke"' in listing.content
    assert b'value="delete_selected"' not in listing.content
    assert b"/delete/" not in change.content
    assert delete.status_code == 403
    assert bulk.status_code in (200, 302)
    assert LoginSession.objects.filter(pk=session.pk).exists()
