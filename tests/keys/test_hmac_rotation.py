"""Rotating HMAC secrets without signing anybody out, through HTTP."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE
from tokens_app.keys import hmac_key_id

from .conftest import kid_of, sign_in, token_checks

NEW_ACCESS = "new-access-secret-for-the-rotation-tests-0123456789"
NEW_REFRESH = "new-refresh-secret-for-the-rotation-tests-0123456789"
DOC = Path(__file__).resolve().parents[2] / "docs" / "key-rotation.md"


def me(client: Client):
    return client.get("/api/auth/me/")


def forget_refresh(client: Client) -> None:
    # An API client holding only its access token: no silent refresh can hide a refusal.
    del client.cookies[REFRESH_COOKIE]


@pytest.mark.django_db
def test_access_token_signed_with_a_fallback_secret_is_still_accepted(alice, settings):
    client = Client()
    old_access, _ = sign_in(client)
    old = settings.TOKENS_ACCESS_SECRET
    assert kid_of(old_access) == hmac_key_id(old)

    settings.TOKENS_ACCESS_SECRET, settings.TOKENS_ACCESS_SECRET_FALLBACKS = NEW_ACCESS, [old]
    forget_refresh(client)

    response = me(client)
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "alice"
    new_access, _ = sign_in(Client())
    assert kid_of(new_access) == hmac_key_id(NEW_ACCESS) != kid_of(old_access)


@pytest.mark.django_db
def test_access_token_is_refused_once_its_secret_is_no_fallback(alice, settings):
    client = Client()
    sign_in(client)
    settings.TOKENS_ACCESS_SECRET, settings.TOKENS_ACCESS_SECRET_FALLBACKS = NEW_ACCESS, []
    forget_refresh(client)

    response = me(client)

    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


@pytest.mark.django_db
def test_browser_stays_signed_in_when_the_old_access_secret_is_dropped(alice, settings):
    client = Client()
    sign_in(client)
    settings.TOKENS_ACCESS_SECRET, settings.TOKENS_ACCESS_SECRET_FALLBACKS = NEW_ACCESS, []

    response = client.get("/")

    # The access cookie is refused, the refresh cookie (other secret) renews it.
    assert response.status_code == 200
    assert kid_of(response.cookies[ACCESS_COOKIE].value) == hmac_key_id(NEW_ACCESS)


@pytest.mark.django_db
def test_refresh_token_signed_with_a_fallback_secret_still_refreshes(alice, settings):
    client = Client()
    _, old_refresh = sign_in(client)
    old = settings.TOKENS_REFRESH_SECRET
    settings.TOKENS_REFRESH_SECRET, settings.TOKENS_REFRESH_SECRET_FALLBACKS = NEW_REFRESH, [old]

    response = client.post("/api/auth/refresh/")

    assert response.status_code == 200
    assert kid_of(old_refresh) == hmac_key_id(old)
    assert kid_of(response.cookies[REFRESH_COOKIE].value) == hmac_key_id(NEW_REFRESH)


@pytest.mark.django_db
def test_refresh_token_is_refused_once_its_secret_is_no_fallback(alice, settings):
    client = Client()
    sign_in(client)
    settings.TOKENS_REFRESH_SECRET, settings.TOKENS_REFRESH_SECRET_FALLBACKS = NEW_REFRESH, []

    response = client.post("/api/auth/refresh/")

    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"
    assert response.cookies[REFRESH_COOKIE].value == ""


@pytest.mark.django_db
def test_token_whose_kid_names_no_configured_secret_is_refused(alice, settings):
    # Signed with a secret the site never had: the kid names nothing it knows.
    settings.TOKENS_ACCESS_SECRET = "a-secret-the-site-will-forget-0123456789abcdef"
    client = Client()
    sign_in(client)
    settings.TOKENS_ACCESS_SECRET = NEW_ACCESS
    settings.TOKENS_ACCESS_SECRET_FALLBACKS = ["yet-another-secret-not-the-one-used-0123456789"]
    forget_refresh(client)

    response = me(client)

    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def _printed(command_output: str, name: str) -> str:
    lines = dict(line.split("=", 1) for line in command_output.splitlines() if "=" in line)
    return lines[name]


@pytest.mark.django_db
def test_rotation_procedure_in_the_docs_step_by_step(alice, settings):
    """docs/key-rotation.md, "Rotating an HMAC secret", steps 1-4, for the access secret."""
    doc = DOC.read_text()
    for step in (
        "1. **Make a new secret.**",
        "2. **Make it current and keep the old one as a fallback.**",
        "3. **Wait one token lifetime.**",
        "4. **Remove the old secret.**",
    ):
        assert step in doc, f"the test follows {step!r}: keep the docs and this test in step"

    user_before = Client()
    sign_in(user_before)
    forget_refresh(user_before)  # the access token alone must carry the user through
    assert me(user_before).status_code == 200
    old = settings.TOKENS_ACCESS_SECRET

    # 1. Make a new secret.
    out = io.StringIO()
    call_command("generate_secrets", stdout=out)
    new = _printed(out.getvalue(), "ACCESS_TOKEN_SECRET")
    assert new != old
    assert len(new.encode()) >= 32

    # 2. Make it current and keep the old one as a fallback (restart: new settings).
    settings.TOKENS_ACCESS_SECRET, settings.TOKENS_ACCESS_SECRET_FALLBACKS = new, [old]
    assert token_checks() == []
    assert me(user_before).status_code == 200, "nobody is signed out by the rotation"
    user_after = Client()
    after_access, _ = sign_in(user_after)
    assert kid_of(after_access) == hmac_key_id(new)

    # 3. Wait one token lifetime: the old access token expires (the browser renews
    #    it silently with its refresh token; here it is simply gone).
    # 4. Remove the old secret.
    settings.TOKENS_ACCESS_SECRET_FALLBACKS = []
    response = me(user_before)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"
    assert me(user_after).status_code == 200
