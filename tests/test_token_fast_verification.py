"""verify_access / verify_refresh remember each token whose signature passed
(per worker): every check must still refuse what it refuses on first sight,
and the time checks run on every call. Tokens are forged by hand here
(tests/forge.py), exactly as an attacker would."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests import forge as forge_module
from tests.forge import b64
from tokens_app.exceptions import TokenError, TokenExpired
from tokens_app.keys import hmac_key_id
from tokens_app.tokens import issue_access, issue_refresh, verify_access

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
SID = "2f1c2b9e-8d3a-4c55-9a61-0d6f4f3c2a10"  # a device session id is a UUID


@dataclass
class FakeUser:
    pk: int = 7
    token_version: int = 3

    def get_username(self) -> str:
        return "alice"


def forge(payload: dict, secret: str, *, header: dict | None = None) -> str:
    head = {"alg": "HS256", "typ": "JWT", "kid": hmac_key_id(secret), **(header or {})}
    return forge_module.sign(head, payload, secret)


def claims(**changes) -> dict:
    payload = {
        "iss": "authproject",
        "sub": "7",
        "ver": 3,
        "typ": "access",
        "sid": SID,
        "iat": T,
        "exp": T + 300,
        "jti": "j1",
        "name": "alice",
    }
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not None}


@pytest.fixture
def secret(settings) -> str:
    return settings.TOKENS_ACCESS_SECRET


def test_a_token_we_issued_verifies_again_and_again():
    token = issue_access(FakeUser(), session_id=SID, now=NOW).token
    for _ in range(3):
        assert verify_access(token, now=NOW).sub == "7"


def test_a_hand_signed_token_with_our_key_verifies(secret):
    assert verify_access(forge(claims(), secret), now=NOW).username == "alice"


def test_a_changed_payload_is_refused_even_after_the_original_verified(secret):
    token = forge(claims(), secret)
    verify_access(token, now=NOW)
    head, _, signature = token.split(".")
    altered = f"{head}.{b64(json.dumps(claims(sub='1')).encode())}.{signature}"
    with pytest.raises(TokenError):
        verify_access(altered, now=NOW)


def test_a_token_signed_with_another_key_under_our_kid_is_refused(secret):
    token = forge(claims(), "an-attacker-key-0123456789abcdef0123456789", header={"kid": hmac_key_id(secret)})
    with pytest.raises(TokenError):
        verify_access(token, now=NOW)


def test_a_token_without_a_signature_is_refused(secret):
    head, payload, _ = forge(claims(), secret).split(".")
    with pytest.raises(TokenError):
        verify_access(f"{head}.{payload}.", now=NOW)
    with pytest.raises(TokenError):
        verify_access(forge(claims(), secret, header={"alg": "none"}), now=NOW)


@pytest.mark.parametrize("header", [{"b64": False}, {"crit": ["b64"]}, {"jku": "https://evil.example/"}])
def test_headers_that_change_how_a_token_is_read_are_refused(secret, header):
    with pytest.raises(TokenError):
        verify_access(forge(claims(), secret, header=header), now=NOW)


@pytest.mark.parametrize("missing", ["sub", "ver", "typ", "sid", "iat", "exp", "jti", "iss"])
def test_each_required_claim_is_required(secret, missing):
    with pytest.raises(TokenError):
        verify_access(forge(claims(**{missing: None}), secret), now=NOW)


def test_another_issuer_is_refused(secret):
    with pytest.raises(TokenError):
        verify_access(forge(claims(iss="someone-else"), secret), now=NOW)


def test_a_token_for_an_audience_is_refused(secret):
    with pytest.raises(TokenError):
        verify_access(forge(claims(aud="another-service"), secret), now=NOW)


def test_not_before_is_honoured_on_every_call(secret):
    token = forge(claims(nbf=T + 60), secret)
    with pytest.raises(TokenError):
        verify_access(token, now=NOW)
    assert verify_access(token, now=NOW + timedelta(seconds=60)).sub == "7"
    with pytest.raises(TokenError):
        verify_access(token, now=NOW)  # remembered as signed, still not yet valid
    with pytest.raises(TokenError):
        verify_access(forge(claims(nbf="soon"), secret), now=NOW)


def test_expiry_is_checked_on_every_call_even_for_a_remembered_token(secret):
    token = forge(claims(), secret)
    assert verify_access(token, now=NOW).sub == "7"
    with pytest.raises(TokenExpired):
        verify_access(token, now=NOW + timedelta(minutes=10))


def test_a_refresh_token_is_not_an_access_token_even_when_remembered():
    token = issue_refresh(FakeUser(), session_id=SID, now=NOW).token
    with pytest.raises(TokenError):
        verify_access(token, now=NOW)


def test_a_retired_key_stops_verifying_at_once(settings):
    old = "the-old-access-key-0123456789abcdef0123456789"
    settings.TOKENS_ACCESS_SECRET_FALLBACKS = [old]
    token = forge(claims(), old)
    assert verify_access(token, now=NOW).sub == "7"
    settings.TOKENS_ACCESS_SECRET_FALLBACKS = []
    with pytest.raises(TokenError):
        verify_access(token, now=NOW)


def test_claims_of_the_wrong_type_are_refused(secret):
    with pytest.raises(TokenError):
        verify_access(forge(claims(ver=True), secret), now=NOW)
    with pytest.raises(TokenError):
        verify_access(forge(claims(exp=str(T + 300)), secret), now=NOW)


def test_an_issued_token_is_the_compact_hs256_jwt_any_library_would_check(secret):
    # Checked by hand, not by PyJWT, which signs them: the standard compact
    # form, signed with our key over exactly the bytes sent.
    token = issue_access(FakeUser(), session_id=SID, now=NOW).token
    head, body, signature = token.split(".")
    decoded = (base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in (head, body))
    header, payload = (json.loads(part) for part in decoded)
    assert header == {"alg": "HS256", "kid": hmac_key_id(secret), "typ": "at+jwt"}
    assert (payload["sub"], payload["ver"], payload["typ"]) == ("7", 3, "access")
    expected = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert signature == b64(expected)
