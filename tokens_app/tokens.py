"""Issue and verify JWTs. The only module that imports PyJWT.

Two kinds of token, each with its own key: a short-lived *access* token that is
verified on every request without the database, and a long-lived *refresh*
token that names a device session (``sid``) and is only honoured by
``flows.refresh`` after checking the database.

Every token carries ``sub``, ``ver`` (the user's token_version at issue),
``typ``, ``sid``, ``iat``, ``exp``, ``jti`` and ``iss``, and ``auth_time`` (the
last time the user typed their password; kept through rotation, see
reauth.py); refresh tokens also carry ``sxp``, the session's maximum
lifetime, which their ``exp`` never passes; the header carries ``kid`` so that keys can be rotated without a
mass logout, and ``typ`` (``at+jwt`` for access tokens as RFC 9068 asks,
``refresh+jwt`` for refresh tokens) so that neither can be taken for the other
or for another system's JWT (RFC 8725, explicit typing). Which keys sign
and verify (HMAC secrets, or a key pair for access tokens) is keys.py's job.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from jwt.algorithms import HMACAlgorithm

from . import clock, versions
from .conf import app_settings
from .exceptions import SessionMaxLifetime, TokenError, TokenExpired
from .keys import Keyring, access_keyring, hmac_key_id, refresh_keyring

ACCESS = "access"
REFRESH = "refresh"
# The JOSE header ``typ`` of each kind (RFC 9068 section 2.1; RFC 8725 section 3.11).
HEADER_TYPES = {ACCESS: "at+jwt", REFRESH: "refresh+jwt"}
# What tokens issued before explicit typing carry (PyJWT's default). Accepted
# while TOKENS_ACCEPT_UNTYPED_TOKENS is on: one REFRESH_LIFETIME after the
# deploy that introduced the types; delete this and that setting afterwards.
_LEGACY_HEADER_TYPES = frozenset({None, "JWT"})

_REQUIRED_CLAIMS = ("sub", "ver", "typ", "sid", "iat", "exp", "jti", "iss")
# Headers that would let a token pick its own key or fetch one: never trusted.
_FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64"})
# HMAC tokens are verified here directly (see _decode_hmac); key pairs go
# through jwt.decode.
_HMAC = {
    "HS256": HMACAlgorithm(HMACAlgorithm.SHA256),
    "HS384": HMACAlgorithm(HMACAlgorithm.SHA384),
    "HS512": HMACAlgorithm(HMACAlgorithm.SHA512),
}
_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime holds
_MAX_HEADER_CHARS = 512
_MAX_HEADER_FIELDS = 8
# Whatever a hostile segment makes the decoders raise: each means "malformed".
_PARSE_ERRORS = (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError)


@dataclass(frozen=True)
class Claims:
    """The verified content of a token."""

    sub: str
    ver: int
    typ: str
    sid: str
    iat: int
    exp: int
    jti: str
    username: str
    # Unix time of the last real sign-in (password typed); None in tokens
    # issued before it existed, which count as not recent.
    auth_time: int | None = None
    # Refresh tokens: Unix time of the session's maximum lifetime (``sxp``),
    # so an expired token can tell "the session reached its end" from idleness.
    session_end: int | None = None

    @property
    def user_id(self) -> str:
        return self.sub

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, tz=UTC)

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.iat, tz=UTC)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    claims: Claims


def key_id(secret: str | bytes) -> str:
    """The ``kid`` of an HMAC key (see keys.py)."""
    return hmac_key_id(secret)


def _keyring(typ: str) -> Keyring:
    # Cached in keys.py on the configured values, so a settings override takes
    # effect at once and the steady state parses and hashes nothing per request.
    return access_keyring() if typ == ACCESS else refresh_keyring()


def _issue(
    typ: str,
    user,
    *,
    session_id: str,
    jti: str | None,
    now: datetime | None,
    not_after: datetime | None = None,
    auth_time: datetime | None = None,
) -> IssuedToken:
    issued = int((now or clock.now()).timestamp())
    lifetime = app_settings.ACCESS_LIFETIME if typ == ACCESS else app_settings.REFRESH_LIFETIME
    expires = issued + int(lifetime.total_seconds())
    if not_after is not None:
        # The session's maximum lifetime: no token outlives it.
        expires = max(issued + 1, min(expires, int(not_after.timestamp())))
    claims = Claims(
        sub=str(user.pk),
        ver=versions.of(user),
        typ=typ,
        sid=str(session_id),
        iat=issued,
        exp=expires,
        jti=jti or uuid.uuid4().hex,
        username=user.get_username(),
        auth_time=None if auth_time is None else int(auth_time.timestamp()),
        session_end=int(not_after.timestamp()) if typ == REFRESH and not_after is not None else None,
    )
    keyring = _keyring(typ)
    payload = {
        "iss": app_settings.ISSUER,
        "sub": claims.sub,
        "ver": claims.ver,
        "typ": claims.typ,
        "sid": claims.sid,
        "iat": claims.iat,
        "exp": claims.exp,
        "jti": claims.jti,
        "name": claims.username,
    }
    if claims.auth_time is not None:
        payload["auth_time"] = claims.auth_time
    if claims.session_end is not None:
        payload["sxp"] = claims.session_end
    audience = app_settings.AUDIENCE if typ == ACCESS else None
    if audience:
        payload["aud"] = audience
    key = keyring.current
    hmac_algorithm = _HMAC.get(keyring.algorithm)
    if hmac_algorithm is None:
        token = jwt.encode(
            payload,
            key.signing,
            algorithm=keyring.algorithm,
            headers={"kid": key.kid, "typ": HEADER_TYPES[typ]},
        )
    else:
        # What jwt.encode writes for an HMAC key, without its per-call work
        # (preparing the key, merging and encoding the same header): a third
        # of a refresh's token cost. Same compact JSON, same signature.
        body = _b64encode(json.dumps(payload, separators=(",", ":")).encode())
        signing_input = f"{_header_segment(keyring.algorithm, key.kid, HEADER_TYPES[typ])}.{body}"
        signature = hmac_algorithm.sign(
            signing_input.encode("ascii"), _hmac_key(keyring.algorithm, key.signing)
        )
        token = f"{signing_input}.{_b64encode(signature)}"
    return IssuedToken(token=token, claims=claims)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@functools.lru_cache(maxsize=16)
def _header_segment(algorithm: str, kid: str, typ: str) -> str:
    # jwt.encode's header for our tokens: sorted keys, compact separators.
    header = {"alg": algorithm, "kid": kid, "typ": typ}
    return _b64encode(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())


@functools.lru_cache(maxsize=16)
def _hmac_key(algorithm: str, secret: bytes) -> bytes:
    # PyJWT's checks of an HMAC secret (never a PEM or SSH public key), made
    # once per key instead of on every signature and verification. A refused
    # key raises again each time: lru_cache keeps no exceptions.
    return _HMAC[algorithm].prepare_key(secret)


def issue_access(
    user,
    *,
    session_id: str,
    now: datetime | None = None,
    not_after: datetime | None = None,
    auth_time: datetime | None = None,
) -> IssuedToken:
    """An access token for ``user`` at their current token_version.

    ``not_after`` caps its expiry (the session's maximum lifetime);
    ``auth_time`` is the session's last real sign-in.
    """
    return _issue(
        ACCESS, user, session_id=session_id, jti=None, now=now, not_after=not_after, auth_time=auth_time
    )


def issue_refresh(
    user,
    *,
    session_id: str,
    jti: str | None = None,
    now: datetime | None = None,
    not_after: datetime | None = None,
    auth_time: datetime | None = None,
) -> IssuedToken:
    """A refresh token for the device session ``session_id``.

    ``jti`` is given when re-issuing the session's current token (the rotation
    grace window); otherwise a fresh one is drawn. ``not_after`` and
    ``auth_time`` as for ``issue_access``.
    """
    return _issue(
        REFRESH, user, session_id=session_id, jti=jti, now=now, not_after=not_after, auth_time=auth_time
    )


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64_json(segment: str) -> dict:
    value = json.loads(_b64decode(segment))
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


@functools.lru_cache(maxsize=64)
def _header(segment: str) -> dict:
    # Every token signed with one key has the same header segment: parse it
    # once. Only what parses is cached (lru_cache keeps no exceptions);
    # callers must not modify the dict.
    #
    # The header is read before any signature is checked, so it is bounded
    # first: a short segment, then a flat object of short scalars. Ours is
    # {"alg","kid","typ"} in ~70 characters; 1,000 "[" would otherwise make
    # json.loads raise RecursionError, a 500 on every page.
    if len(segment) > _MAX_HEADER_CHARS:
        raise ValueError("header too long")
    header = _b64_json(segment)
    if len(header) > _MAX_HEADER_FIELDS or not all(
        isinstance(value, str | int | float | bool) or value is None for value in header.values()
    ):
        raise ValueError("header not a flat object")
    return header


def is_malformed(raw: str | None) -> bool:
    """True for a cookie value that can never be a token of ours, whatever
    the key: too long, foreign characters, or a header that does not parse
    (see ``_header``). Cheap, and with no signature check."""
    if not raw or len(raw) > app_settings.MAX_TOKEN_BYTES or not _TOKEN_CHARS.match(raw):
        return True
    try:
        _header(raw.partition(".")[0])
    except _PARSE_ERRORS:
        return True
    return False


def _verify(raw: str | None, typ: str, now: datetime | None) -> Claims:
    if not raw or len(raw) > app_settings.MAX_TOKEN_BYTES or not _TOKEN_CHARS.match(raw):
        raise TokenError("malformed")
    try:
        header = _header(raw.partition(".")[0])
    except _PARSE_ERRORS:
        raise TokenError("malformed header") from None

    keyring = _keyring(typ)
    kid = header.get("kid")
    # One algorithm per keyring, chosen by us: a token never picks its own
    # (no "none", no HS256 made with a published public key as the secret).
    if header.get("alg") != keyring.algorithm or _FORBIDDEN_HEADERS & header.keys():
        raise TokenError("header not allowed")
    header_type = header.get("typ")
    if header_type != HEADER_TYPES[typ] and not (
        header_type in _LEGACY_HEADER_TYPES and app_settings.ACCEPT_UNTYPED_TOKENS
    ):
        # An access token offered as a refresh token (or the reverse), or a
        # JWT of another kind signed by a shared key, is refused unparsed.
        raise TokenError("wrong header type")
    if not isinstance(kid, str) or not _KID.match(kid):
        raise TokenError("bad kid")
    if keyring.get(kid) is None:
        raise TokenError("unknown kid")

    audience = app_settings.AUDIENCE if typ == ACCESS else None
    claims, nbf = _signed_claims(raw, typ, kid, keyring.algorithm, app_settings.ISSUER, audience)
    if claims.typ != typ:
        raise TokenError("wrong type")
    moment = (now or clock.now()).timestamp()
    leeway = app_settings.LEEWAY.total_seconds()
    if nbf is not None and nbf > moment + leeway:
        raise TokenError("not yet valid")
    if claims.iat > moment + leeway:
        raise TokenError("issued in the future")
    if claims.exp <= moment - leeway:
        if claims.session_end is not None and claims.exp >= claims.session_end:
            # Its expiry was cut to the session's maximum lifetime
            # (flows.session_deadline): the session reached its end, however
            # long ago, not an idle timeout.
            raise SessionMaxLifetime("expired at the session's maximum lifetime")
        raise TokenExpired("expired")
    return claims


@functools.lru_cache(maxsize=2048)
def _signed_claims(
    raw: str, typ: str, kid: str, algorithm: str, issuer: str, audience: str | None
) -> tuple[Claims, float | None]:
    """The claims of ``raw`` if the key named ``kid`` signed it and its payload
    passes every check that does not depend on the time; TokenError otherwise.

    Memoised: a browser presents the same access token on every request of its
    five-minute life, so each worker checks its signature once. The memo is
    sound because a ``kid`` is a fingerprint of its key (the same kid is the
    same key), and the caller has already refused a kid that is no longer
    configured. Only tokens that pass are remembered (lru_cache keeps no
    exceptions). The time checks (``nbf``, ``iat``, ``exp``) and the type check
    run on every call, in ``_verify``.
    """
    key = _keyring(typ).get(kid)
    hmac_algorithm = _HMAC.get(algorithm)
    if hmac_algorithm is not None:
        payload = _decode_hmac(raw, _hmac_key(algorithm, key.verifying), hmac_algorithm, issuer, audience)
    else:
        try:
            payload = jwt.decode(
                raw,
                key.verifying,
                algorithms=[algorithm],
                issuer=issuer,
                audience=audience,
                # Time claims are checked by _verify against ``now`` (tests pass a time).
                options={
                    "require": list(_REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenError(type(exc).__name__) from None
        except _PARSE_ERRORS:
            raise TokenError("DecodeError") from None
    nbf = payload.get("nbf")
    if nbf is not None and (not isinstance(nbf, int | float) or isinstance(nbf, bool)):
        raise TokenError("DecodeError")
    return _claims_from(payload), nbf


def _decode_hmac(raw: str, secret: bytes, algorithm, issuer: str, audience: str | None) -> dict:
    """What jwt.decode checks, for an HMAC token, without its per-call overhead.

    jwt.decode prepares the key, parses the header a second time and merges
    its options on every call: most of the cost of an authenticated request
    that needs no database. The header was checked by the caller; this checks
    the signature (PyJWT's own HMAC, constant-time compare), then the payload
    as jwt.decode would with our options: a JSON object, every required claim
    present, ``iss`` ours, ``aud`` ours when configured and absent otherwise.
    """
    signing_input, _, signature = raw.rpartition(".")
    try:
        valid = algorithm.verify(signing_input.encode("ascii"), secret, _b64decode(signature))
    except (ValueError, binascii.Error):
        raise TokenError("DecodeError") from None
    if not valid:
        raise TokenError("InvalidSignatureError")
    try:
        payload = _b64_json(signing_input.partition(".")[2])
    except _PARSE_ERRORS:
        raise TokenError("DecodeError") from None
    if any(payload.get(name) is None for name in _REQUIRED_CLAIMS):
        raise TokenError("MissingRequiredClaimError")
    if payload["iss"] != issuer:
        raise TokenError("InvalidIssuerError")
    aud = payload.get("aud")
    if audience is None:
        if aud:
            raise TokenError("InvalidAudienceError")
    elif not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise TokenError("InvalidAudienceError")
    return payload


def _claims_from(payload: dict) -> Claims:
    def typed(name: str, kind: type):
        value = payload.get(name)
        # bool is an int subclass; a JSON true is never a version or a time.
        if not isinstance(value, kind) or isinstance(value, bool):
            raise TokenError(f"claim {name} has the wrong type")
        return value

    claims = Claims(
        sub=typed("sub", str),
        ver=typed("ver", int),
        typ=typed("typ", str),
        sid=typed("sid", str),
        iat=typed("iat", int),
        exp=typed("exp", int),
        jti=typed("jti", str),
        username=payload.get("name") if isinstance(payload.get("name"), str) else "",
        auth_time=typed("auth_time", int) if "auth_time" in payload else None,
        session_end=typed("sxp", int) if "sxp" in payload else None,
    )
    # A claim of the right type can still hold what no datetime, session id or
    # user id column can (exp=10**15, sid="x", sub="abc"): refused here as an
    # invalid token, not met later as a 500 in a view or a query.
    optional_times = (t for t in (claims.auth_time, claims.session_end) if t is not None)
    if not (0 <= claims.iat <= _MAX_TIMESTAMP and 0 <= claims.exp <= _MAX_TIMESTAMP) or not all(
        0 <= t <= _MAX_TIMESTAMP for t in optional_times
    ):
        raise TokenError("time out of range")
    try:
        uuid.UUID(claims.sid)
        pk = get_user_model()._meta.pk
        pk.run_validators(pk.to_python(claims.sub))
    except (ValueError, ValidationError):
        raise TokenError("sub or sid out of range") from None
    return claims


def verify_access(raw: str | None, *, now: datetime | None = None) -> Claims:
    """Claims of a valid access token; TokenError (or TokenExpired) otherwise. No database."""
    return _verify(raw, ACCESS, now)


def verify_refresh(raw: str | None, *, now: datetime | None = None) -> Claims:
    """Claims of a validly signed, unexpired refresh token. Whether it is still
    honoured (version, session, rotation) is decided by ``flows.refresh``."""
    return _verify(raw, REFRESH, now)


# --- services: the signed revocation feed (feed.py)
FEED_HEADER_TYPE = "revocations+jwt"


def sign_feed(payload: dict[str, object]) -> str:
    """A revocation feed page signed with the current access key, so a
    resource server checks it with the keys it already trusts (the JWKS, or
    the shared access secret). Its header ``typ`` and ``typ`` claim keep it
    from ever passing for an access token, here or there."""
    keyring = access_keyring()
    key = keyring.current
    return jwt.encode(
        {**payload, "iss": app_settings.ISSUER, "typ": "revocations"},
        key.signing,
        algorithm=keyring.algorithm,
        headers={"kid": key.kid, "typ": FEED_HEADER_TYPE},
    )
