"""Row locks on PostgreSQL: what concurrent refreshes and bumps really do.

Each thread has its own connection and transaction, as requests in separate
workers would; the test database is transactional (no wrapping transaction),
so the locks and commits are real.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from tests.conftest import signed_in
from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tests.server.conftest import run_at_once
from tokens_app.models import LoginSession
from tokens_app.revocation import bump_token_version
from tokens_app.tokens import issue_access, verify_access, verify_refresh

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


def _refresh_with(raw_refresh: str):
    client = Client()
    client.cookies[REFRESH_COOKIE] = raw_refresh
    return client.post("/api/auth/refresh/")


def test_twenty_simultaneous_refreshes_of_one_token_all_get_the_same_new_token(alice):
    client = signed_in()
    raw = client.cookies[REFRESH_COOKIE].value
    old_jti = verify_refresh(raw).jti

    responses = run_at_once(*[lambda: _refresh_with(raw)] * 20)

    assert [r.status_code for r in responses] == [200] * 20
    jtis = {verify_refresh(r.cookies[REFRESH_COOKIE].value).jti for r in responses}
    session = LoginSession.objects.get(user=alice)
    # One rotation; the other 19 arrived with the now-previous token inside
    # the grace window and were handed the same current token.
    assert session.rotations == 1
    assert jtis == {session.current_jti}
    assert session.previous_jti == old_jti != session.current_jti
    assert session.revoked_at is None


def _refused(client: Client, access: str, refresh: str) -> None:
    client.cookies[ACCESS_COOKIE] = access
    client.cookies[REFRESH_COOKIE] = refresh
    me = client.get("/api/auth/me/")
    assert me.status_code == 401
    assert me.json()["code"] == "token_revoked"
    again = client.post("/api/auth/refresh/")
    assert again.status_code == 401
    assert again.json()["code"] == "token_revoked"


@pytest.mark.parametrize("round_", range(8))
def test_a_bump_racing_a_refresh_never_leaves_an_old_version_token_alive(alice, round_):
    client = signed_in()
    access, refresh = (
        client.cookies[ACCESS_COOKIE].value,
        client.cookies[REFRESH_COOKIE].value,
    )
    old_version = verify_access(access).ver

    bumped, refreshed = run_at_once(
        lambda: bump_token_version(alice, reason="race"),
        lambda: _refresh_with(refresh),
    )

    assert bumped == old_version + 1
    # Either order is legitimate: the refresh lost (refused) or won (new
    # tokens, still carrying the old version). Whatever it handed out is dead now.
    if refreshed.status_code == 200:
        new_access = refreshed.cookies[ACCESS_COOKIE].value
        new_refresh = refreshed.cookies[REFRESH_COOKIE].value
        assert verify_access(new_access).ver == old_version
        _refused(Client(), new_access, new_refresh)
    else:
        assert refreshed.status_code == 401
        assert refreshed.json()["code"] == "token_revoked"
    _refused(Client(), access, refresh)
    assert not LoginSession.objects.active().filter(user=alice).exists()


@pytest.mark.parametrize("round_", range(8))
def test_two_concurrent_bumps_add_two_and_only_the_latest_version_is_accepted(
    alice, django_user_model, round_
):
    before = django_user_model.objects.get(pk=alice.pk).token_version
    first, second = django_user_model.objects.get(pk=alice.pk), django_user_model.objects.get(pk=alice.pk)

    results = run_at_once(
        lambda: bump_token_version(first, reason="one"),
        lambda: bump_token_version(second, reason="two"),
    )

    after = django_user_model.objects.get(pk=alice.pk).token_version
    assert after == before + 2
    assert sorted(results) == [before + 1, before + 2]
    # Whichever write-through landed last, a fresh session works...
    fresh = signed_in()
    assert fresh.get("/api/auth/me/").status_code == 200
    assert cache.get(f"tokens:ver:{alice.pk}") == after
    # ...and a token minted at the intermediate version is refused.
    between = django_user_model.objects.get(pk=alice.pk)
    between.token_version = before + 1
    sid = verify_access(fresh.cookies[ACCESS_COOKIE].value).sid
    stale = Client()
    stale.cookies[ACCESS_COOKIE] = issue_access(between, session_id=sid).token
    me = stale.get("/api/auth/me/")
    assert (me.status_code, me.json()["code"]) == (401, "token_revoked")
