"""Issuing and verifying tokens: what tokens.py promises, including every refusal."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model

from tests import forge
from tokens_app.exceptions import TokenError, TokenExpired
from tokens_app.keys import hmac_key_id
from tokens_app.tokens import issue_access, issue_refresh, verify_access, verify_refresh

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
SID = str(uuid.uuid4())


@pytest.fixture
def user():
    # Issuing and verifying never touch the database: an unsaved user will do.
    return get_user_model()(pk=42, username="alice", token_version=3)


def _parts(raw: str) -> tuple[dict, dict]:
    header, payload, _ = raw.split(".")
    return forge.unb64_json(header), forge.unb64_json(payload)


# Issuing ---------------------------------------------------------------------


def test_access_token_carries_every_claim_and_the_kid_of_the_access_key(user, settings):
    issued = issue_access(user, session_id=SID, now=T0)
    header, payload = _parts(issued.token)

    # Explicitly typed (RFC 9068 / RFC 8725), no longer the generic "JWT".
    assert header == {"alg": "HS256", "typ": "at+jwt", "kid": hmac_key_id(settings.TOKENS_ACCESS_SECRET)}
    iat = int(T0.timestamp())
    assert payload["iss"] == "authproject"
    assert payload["sub"] == "42"
    assert payload["ver"] == 3
    assert payload["typ"] == "access"
    assert payload["sid"] == SID
    assert payload["iat"] == iat
    assert payload["exp"] == iat + 5 * 60
    assert len(payload["jti"]) >= 32
    assert issued.claims.expires_at == T0 + timedelta(minutes=5)


def test_refresh_token_lives_fourteen_days_and_names_the_refresh_key(user, settings):
    issued = issue_refresh(user, session_id=SID, now=T0)
    header, payload = _parts(issued.token)

    assert header["kid"] == hmac_key_id(settings.TOKENS_REFRESH_SECRET)
    assert header["kid"] != hmac_key_id(settings.TOKENS_ACCESS_SECRET)
    assert payload["typ"] == "refresh"
    assert payload["exp"] - payload["iat"] == 14 * 24 * 3600


def test_key_id_is_not_the_key(settings):
    kid = hmac_key_id(settings.TOKENS_ACCESS_SECRET)
    assert settings.TOKENS_ACCESS_SECRET not in kid
    assert kid == hmac_key_id(settings.TOKENS_ACCESS_SECRET)


def test_every_token_gets_a_fresh_jti(user):
    assert issue_access(user, session_id=SID).claims.jti != issue_access(user, session_id=SID).claims.jti


def test_lifetimes_are_read_when_issuing_so_settings_overrides_apply(user, settings):
    settings.TOKENS_ACCESS_LIFETIME = timedelta(minutes=15)
    settings.TOKENS_REFRESH_LIFETIME = timedelta(days=7)

    access = issue_access(user, session_id=SID, now=T0).claims
    refresh = issue_refresh(user, session_id=SID, now=T0).claims

    assert access.exp - access.iat == 900
    assert refresh.exp - refresh.iat == 7 * 86400


def test_a_token_is_verified_with_the_claims_it_was_issued_with(user):
    issued = issue_access(user, session_id=SID, now=T0)
    claims = verify_access(issued.token, now=T0 + timedelta(minutes=1))
    assert claims == issued.claims
    assert claims.username == "alice"


# Access is never refresh, nor the reverse -------------------------------------


def test_access_token_is_never_accepted_as_a_refresh_token(user):
    access = issue_access(user, session_id=SID, now=T0).token
    with pytest.raises(TokenError) as info:
        verify_refresh(access, now=T0)
    assert info.value.code == "token_invalid"


def test_refresh_token_is_never_accepted_as_an_access_token(user):
    refresh = issue_refresh(user, session_id=SID, now=T0).token
    with pytest.raises(TokenError) as info:
        verify_access(refresh, now=T0)
    assert info.value.code == "token_invalid"


def test_refresh_typed_payload_signed_with_the_access_key_is_refused_both_ways(user):
    # Even a correct signature does not make the type claim lie.
    raw = forge.token(forge.claims(user, typ="refresh"), typ="access")
    with pytest.raises(TokenError):
        verify_refresh(raw)
    with pytest.raises(TokenError):
        verify_access(raw)


def test_access_typed_payload_signed_with_the_refresh_key_is_refused(user):
    raw = forge.token(forge.claims(user, typ="access"), typ="refresh")
    with pytest.raises(TokenError):
        verify_access(raw)


# Keys and algorithms -----------------------------------------------------------


def test_token_signed_with_another_key_under_the_right_kid_is_refused(user):
    raw = forge.token(forge.claims(user), secret="an-attacker-key-of-a-perfectly-good-length-0123")
    with pytest.raises(TokenError):
        verify_access(raw)


def test_token_naming_an_unknown_kid_is_refused(user):
    attacker = "an-attacker-key-of-a-perfectly-good-length-0123"
    raw = forge.token(forge.claims(user), secret=attacker, kid=hmac_key_id(attacker))
    with pytest.raises(TokenError):
        verify_access(raw)


def test_token_without_kid_is_refused(user):
    raw = forge.token(forge.claims(user), kid=None)
    with pytest.raises(TokenError):
        verify_access(raw)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_unsigned_token_is_refused(user, alg):
    raw = forge.token(forge.claims(user), alg="none")
    if alg != "none":
        header, payload, _ = raw.split(".")
        raw = f"{forge.b64_json({**forge.unb64_json(header), 'alg': alg})}.{payload}."
    with pytest.raises(TokenError):
        verify_access(raw)


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_token_signed_with_the_right_key_but_another_algorithm_is_refused(user, alg):
    raw = forge.token(forge.claims(user), alg=alg)
    with pytest.raises(TokenError):
        verify_access(raw)


def test_token_claiming_rs256_is_refused(user):
    # The classic confusion attack: an HMAC made with what a verifier would
    # take for a public key.
    raw = forge.token(forge.claims(user), alg="HS256")
    header, payload, signature = raw.split(".")
    forged = f"{forge.b64_json({**forge.unb64_json(header), 'alg': 'RS256'})}.{payload}.{signature}"
    with pytest.raises(TokenError):
        verify_access(forged)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("jwk", {"kty": "oct", "k": "c2VjcmV0"}),
        ("jku", "https://evil.example/keys.json"),
        ("x5u", "https://evil.example/cert.pem"),
        ("x5c", ["MIIB"]),
        ("crit", ["exp"]),
    ],
)
def test_token_with_a_header_that_picks_its_own_key_is_refused_even_if_validly_signed(user, name, value):
    raw = forge.token(forge.claims(user), **{name: value})
    with pytest.raises(TokenError):
        verify_access(raw)


def test_forged_token_with_the_real_key_is_accepted_so_the_refusals_above_mean_something(user):
    claims = verify_access(forge.token(forge.claims(user)))
    assert claims.sub == "42"


def test_token_from_another_issuer_is_refused(user):
    raw = forge.token(forge.claims(user, iss="someone-else"))
    with pytest.raises(TokenError):
        verify_access(raw)


def test_token_signed_with_a_fallback_key_is_accepted_after_rotation(user, settings):
    old = settings.TOKENS_ACCESS_SECRET
    raw = issue_access(user, session_id=SID, now=T0).token
    settings.TOKENS_ACCESS_SECRET = "the-new-access-key-after-rotation-0123456789abcdef"
    with pytest.raises(TokenError):
        verify_access(raw, now=T0)
    settings.TOKENS_ACCESS_SECRET_FALLBACKS = [old]
    assert verify_access(raw, now=T0).sub == "42"


# Time ------------------------------------------------------------------------------


def test_expiry_tolerates_the_leeway_and_not_a_second_more(user):
    issued = issue_access(user, session_id=SID, now=T0)
    token, exp = issued.token, issued.claims.expires_at

    assert verify_access(token, now=exp - timedelta(seconds=1))
    # Default leeway: 10 seconds of clock skew.
    assert verify_access(token, now=exp + timedelta(seconds=9))
    with pytest.raises(TokenExpired) as info:
        verify_access(token, now=exp + timedelta(seconds=10))
    assert info.value.code == "token_expired"


def test_leeway_is_a_setting(user, settings):
    settings.TOKENS_LEEWAY = timedelta(0)
    token = issue_access(user, session_id=SID, now=T0).token
    exp = T0 + timedelta(minutes=5)
    assert verify_access(token, now=exp - timedelta(seconds=1))
    with pytest.raises(TokenExpired):
        verify_access(token, now=exp)


def test_expired_refresh_token_is_refused_as_expired(user):
    token = issue_refresh(user, session_id=SID, now=T0).token
    with pytest.raises(TokenExpired):
        verify_refresh(token, now=T0 + timedelta(days=14, seconds=10))


def test_token_issued_in_the_future_is_refused(user):
    token = issue_access(user, session_id=SID, now=T0 + timedelta(minutes=1)).token
    with pytest.raises(TokenError) as info:
        verify_access(token, now=T0)
    assert not isinstance(info.value, TokenExpired)


def test_token_issued_within_the_leeway_ahead_of_our_clock_is_accepted(user):
    token = issue_access(user, session_id=SID, now=T0 + timedelta(seconds=5)).token
    assert verify_access(token, now=T0)


# Claims --------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["sub", "ver", "typ", "sid", "iat", "exp", "jti", "iss"])
def test_token_missing_a_required_claim_is_refused(user, missing):
    payload = forge.claims(user)
    del payload[missing]
    with pytest.raises(TokenError):
        verify_access(forge.token(payload, typ="access"))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("ver", "3"),
        ("ver", True),
        ("ver", 3.0),
        ("ver", None),
        ("ver", [3]),
        ("sub", 42),
        ("sid", 1),
        ("jti", {"id": 1}),
        ("iat", "1700000000"),
        ("iat", True),
        ("exp", "9999999999"),
        ("exp", 9999999999.5),
        ("typ", ["access"]),
    ],
)
def test_token_with_a_claim_of_the_wrong_type_is_refused(user, claim, value):
    raw = forge.token(forge.claims(user, **{claim: value}), typ="access")
    with pytest.raises(TokenError):
        verify_access(raw)


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", "abc"),
        ("sub", "1" * 40),
        ("sub", ""),
        ("sid", "not-a-uuid"),
        ("sid", ""),
        ("exp", 10**15),
        ("iat", -1),
    ],
)
def test_token_with_a_claim_value_no_user_session_or_datetime_can_hold_is_refused(user, claim, value):
    raw = forge.token(forge.claims(user, **{claim: value}), typ="access")
    with pytest.raises(TokenError):
        verify_access(raw)


def test_payload_that_is_not_an_object_is_refused(user, settings):
    header = {"alg": "HS256", "kid": hmac_key_id(settings.TOKENS_ACCESS_SECRET)}
    with pytest.raises(TokenError):
        verify_access(forge.sign(header, ["not", "an", "object"], settings.TOKENS_ACCESS_SECRET))  # type: ignore[arg-type]


def test_validly_signed_payload_that_is_not_json_is_refused(settings):
    header = forge.b64_json({"alg": "HS256", "kid": hmac_key_id(settings.TOKENS_ACCESS_SECRET)})
    signing_input = f"{header}.{forge.b64(b'sub=42')}"
    digest = hmac.new(settings.TOKENS_ACCESS_SECRET.encode(), signing_input.encode(), hashlib.sha256)
    with pytest.raises(TokenError):
        verify_access(f"{signing_input}.{forge.b64(digest.digest())}")


# Shape -----------------------------------------------------------------------------


def test_oversized_token_is_refused_even_when_validly_signed(user):
    raw = forge.token(forge.claims(user, name="a" * 5000))
    assert len(raw) > 4096
    with pytest.raises(TokenError):
        verify_access(raw)


def test_size_limit_is_a_setting(user, settings):
    raw = forge.token(forge.claims(user))
    settings.TOKENS_MAX_TOKEN_BYTES = len(raw) - 1
    with pytest.raises(TokenError):
        verify_access(raw)
    settings.TOKENS_MAX_TOKEN_BYTES = len(raw)
    assert verify_access(raw)


def _flip_last_signature_char(raw: str) -> str:
    # Not the very last character: its low bits are base64 padding and may not count.
    head, sig = raw.rsplit(".", 1)
    return f"{head}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"


def _valid(user) -> str:
    return forge.token(forge.claims(user))


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda raw: "", id="empty"),
        pytest.param(lambda raw: None, id="none"),
        pytest.param(lambda raw: "garbage", id="garbage"),
        pytest.param(lambda raw: "a.b.c", id="three-garbage-segments"),
        pytest.param(lambda raw: "..", id="dots-only"),
        pytest.param(lambda raw: raw[:-1], id="truncated-signature"),
        pytest.param(lambda raw: raw.rsplit(".", 1)[0], id="no-signature-segment"),
        pytest.param(lambda raw: raw.rsplit(".", 1)[0] + ".", id="empty-signature"),
        pytest.param(lambda raw: raw[: len(raw) // 2], id="cut-in-half"),
        pytest.param(lambda raw: raw + ".extra", id="four-segments"),
        pytest.param(lambda raw: raw + "=", id="padding"),
        pytest.param(lambda raw: " " + raw, id="leading-space"),
        pytest.param(lambda raw: raw.replace(".", ".\u00e9", 1), id="non-ascii"),
        pytest.param(lambda raw: raw.replace(".", ".%2E", 1), id="percent-encoded"),
        pytest.param(lambda raw: raw + "\x00", id="nul-byte"),
        pytest.param(lambda raw: raw.replace(".", ";", 1), id="semicolon"),
        pytest.param(lambda raw: _flip_last_signature_char(raw), id="altered-signature"),
        pytest.param(lambda raw: f"{forge.b64(b'not json')}.{raw.split('.', 1)[1]}", id="header-not-json"),
        pytest.param(lambda raw: f"{forge.b64(b'[1]')}.{raw.split('.', 1)[1]}", id="header-not-object"),
        pytest.param(
            lambda raw: f"{raw.split('.')[0]}.{forge.b64(b'{')}.{raw.split('.')[2]}", id="bad-payload"
        ),
    ],
)
def test_malformed_token_is_refused_with_token_invalid(user, mangle):
    with pytest.raises(TokenError) as info:
        verify_access(mangle(_valid(user)))
    assert info.value.code == "token_invalid"


def test_tampered_payload_is_refused(user):
    header, _, signature = _valid(user).split(".")
    payload = forge.b64_json(forge.claims(user, ver=99))
    with pytest.raises(TokenError):
        verify_access(f"{header}.{payload}.{signature}")
