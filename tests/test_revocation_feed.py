"""The signed revocation feed other services follow (GET /revocations/).

Read with the Django-free verifier (tokens_app.verifier), as a resource
server would: the page is a JWS made with the access key.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import login
from tokens_app import flows
from tokens_app.exceptions import TokenError
from tokens_app.models import AuditEvent, LoginSession
from tokens_app.tokens import verify_access
from tokens_app.verifier import AccessVerifier, Unauthorized

CREDENTIAL = "feed-credential-for-tests-0123456789abcdef"


@pytest.fixture
def feed_on(settings):
    settings.TOKENS_REVOCATION_FEED_CREDENTIALS = ["an-older-credential-still-accepted", CREDENTIAL]


@pytest.fixture
def verifier(settings) -> AccessVerifier:
    return AccessVerifier(issuer=settings.TOKENS_ISSUER, secret=settings.TOKENS_ACCESS_SECRET)


def read_feed(cursor: str | None = None, credential: str = CREDENTIAL):
    query = {} if cursor is None else {"cursor": cursor}
    return Client().get("/revocations/", query, HTTP_AUTHORIZATION=f"Bearer {credential}")


def settle() -> None:
    """Age every audit row past the feed's settle delay, as a few seconds would."""
    AuditEvent.objects.update(created_at=timezone.now() - timedelta(seconds=5))


def test_the_feed_is_off_until_credentials_are_configured(db):
    response = read_feed()

    assert response.status_code == 404
    assert response.json()["code"] == "feed_disabled"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {CREDENTIAL}", "Bearer "])
def test_the_feed_needs_a_services_credential(db, feed_on, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}

    response = Client().get("/revocations/", **headers)

    assert response.status_code == 401
    assert response.json()["code"] == "feed_credential_invalid"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("cursor", ["", "!!", "x" * 40, "MjpfMQ", "MTpub3Q", "MTotMQ"])
def test_a_bad_cursor_is_a_400(db, feed_on, cursor):
    response = read_feed(cursor)

    assert response.status_code == 400
    assert response.json()["code"] == "cursor_invalid"


def test_a_force_logout_is_listed_with_the_version_tokens_need_now(alice, feed_on, verifier):
    flows.force_logout([alice], reason="force_logout")
    alice.refresh_from_db()

    response = read_feed()

    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwt"
    assert response["Cache-Control"] == "private, max-age=5"
    assert "Authorization" in response["Vary"]
    page = verifier.verify_feed(response.content.decode())
    assert page["users"] == [{"sub": str(alice.pk), "ver": alice.token_version, "at": page["users"][0]["at"]}]
    assert page["sessions"] == []
    assert page["more"] is False
    assert page["window"] == 5 * 60 + 10 + 2


def test_an_ended_device_session_is_listed_by_session_id(alice, feed_on, verifier):
    client = Client()
    login(client)
    session = LoginSession.objects.get(user=alice)
    client.post(f"/accounts/sessions/{session.pk}/revoke/")
    assert LoginSession.objects.get(pk=session.pk).revoked_at is not None

    page = verifier.verify_feed(read_feed().content.decode())

    [entry] = page["sessions"]
    assert (entry["sid"], entry["sub"]) == (str(session.pk), str(alice.pk))


def test_the_cursor_passes_only_settled_events(alice, bob, feed_on, verifier):
    flows.force_logout([alice])
    first = verifier.verify_feed(read_feed().content.decode())
    # Too recent to pass: it is listed again from the returned cursor.
    again = verifier.verify_feed(read_feed(first["cursor"]).content.decode())
    assert [user["sub"] for user in again["users"]] == [str(alice.pk)]

    settle()
    settled = verifier.verify_feed(read_feed(again["cursor"]).content.decode())
    flows.force_logout([bob])
    settle()
    after = verifier.verify_feed(read_feed(settled["cursor"]).content.decode())

    assert [user["sub"] for user in after["users"]] == [str(bob.pk)]


def test_pages_follow_each_other_until_no_more(settings, make_user, feed_on, verifier):
    settings.TOKENS_REVOCATION_FEED_PAGE_SIZE = 2
    users = [make_user(f"user{number}") for number in range(5)]
    flows.force_logout(users)
    settle()

    seen, cursor, pages = [], None, 0
    while True:
        page = verifier.verify_feed(read_feed(cursor).content.decode())
        seen += [user["sub"] for user in page["users"]]
        cursor, pages = page["cursor"], pages + 1
        if not page["more"]:
            break

    assert seen == [str(user.pk) for user in users]
    assert pages == 3


def test_revocations_older_than_an_access_token_are_left_out(alice, bob, feed_on, verifier):
    flows.force_logout([alice])
    AuditEvent.objects.update(created_at=timezone.now() - timedelta(minutes=6))
    flows.force_logout([bob])

    page = verifier.verify_feed(read_feed().content.decode())

    assert [user["sub"] for user in page["users"]] == [str(bob.pk)]


def test_a_feed_page_never_passes_for_an_access_token(alice, feed_on, verifier):
    document = read_feed().content.decode()

    with pytest.raises(TokenError):
        verify_access(document)
    with pytest.raises(Unauthorized):
        verifier.verify(document)


def test_a_page_signed_with_another_key_is_refused(alice, feed_on, settings):
    document = read_feed().content.decode()
    stranger = AccessVerifier(issuer=settings.TOKENS_ISSUER, secret="another-secret-" + "x" * 40)

    with pytest.raises(Unauthorized):
        stranger.verify_feed(document)


def test_only_reads_are_allowed(db, feed_on):
    response = Client().post("/revocations/", HTTP_AUTHORIZATION=f"Bearer {CREDENTIAL}")

    assert response.status_code == 405
