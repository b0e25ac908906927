"""Issue and verify JWTs: the site's one module that signs and verifies them
with PyJWT (keys.py uses PyJWT only for the JWK form of a public key;
verifier.py, for other services, verifies with PyJWT itself).

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
and verify (HMAC secrets, or a key pair for access tokens) is keys.py's job;
the checks that need no key (header shape, claim types) are claims.py's.

Signing and verifying go through PyJWT for every algorithm. An HMAC fast path
(its own signing and decoding, ~3x and ~5x faster per call) was measured
against PyJWT with the signature memo below in place: a browser's token is
verified by PyJWT once per worker, then answered from the memo (~11 us either
way), and issuing costs ~16 us more per token on a refresh that writes to the
database. Too little to keep a second JWT implementation.
"""

from __future__ import annotations

import functools
import re
import uuid
from datetime import datetime
from typing import Any

import jwt
from django.contrib.auth.base_user import AbstractBaseUser

from . import clock, versions
from .claims import PARSE_ERRORS, TOKEN_CHARS, Claims, IssuedToken, claims_from, header, is_malformed
from .conf import app_settings
from .exceptions import SessionMaxLifetime, TokenError, TokenExpired
from .keys import Keyring, access_keyring, refresh_keyring

__all__ = [
    "ACCESS",
    "REFRESH",
    "Claims",
    "IssuedToken",
    "is_malformed",
    "issue_access",
    "issue_refresh",
    "verify_access",
    "verify_refresh",
]

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
_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Time claims are checked by _verify against ``now`` (tests pass a time).
_DECODE_OPTIONS: Any = {
    "require": list(_REQUIRED_CLAIMS),
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
}


def _keyring(typ: str) -> Keyring:
    # Cached in keys.py on the configured values, so a settings override takes
    # effect at once and the steady state parses and hashes nothing per request.
    return access_keyring() if typ == ACCESS else refresh_keyring()


def _issue(
    typ: str,
    user: AbstractBaseUser,
    *,
    session_id: uuid.UUID | str,
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
    key = keyring.current
    assert key.signing is not None  # the current key of a keyring always signs
    token = jwt.encode(
        _payload(claims),
        key.signing,
        algorithm=keyring.algorithm,
        headers={"kid": key.kid, "typ": HEADER_TYPES[typ]},
    )
    return IssuedToken(token=token, claims=claims)


def _payload(claims: Claims) -> dict[str, Any]:
    payload: dict[str, Any] = {
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
    audience = app_settings.AUDIENCE if claims.typ == ACCESS else None
    if audience:
        payload["aud"] = audience
    return payload


def issue_access(
    user: AbstractBaseUser,
    *,
    session_id: uuid.UUID | str,
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
    user: AbstractBaseUser,
    *,
    session_id: uuid.UUID | str,
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


def _verify(raw: str | None, typ: str, now: datetime | None) -> Claims:
    if not raw or len(raw) > app_settings.MAX_TOKEN_BYTES or not TOKEN_CHARS.match(raw):
        raise TokenError("malformed")
    try:
        head = header(raw.partition(".")[0])
    except PARSE_ERRORS:
        raise TokenError("malformed header") from None

    keyring = _keyring(typ)
    kid = head.get("kid")
    # One algorithm per keyring, chosen by us: a token never picks its own
    # (no "none", no HS256 made with a published public key as the secret).
    if head.get("alg") != keyring.algorithm or _FORBIDDEN_HEADERS & head.keys():
        raise TokenError("header not allowed")
    header_type = head.get("typ")
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
    if key is None:  # refused by the caller already; the keyring may have changed since
        raise TokenError("unknown kid")
    try:
        payload = jwt.decode(
            raw,
            key.verifying,
            algorithms=[algorithm],
            issuer=issuer,
            audience=audience,
            options=_DECODE_OPTIONS,
        )
    except jwt.PyJWTError as exc:
        raise TokenError(type(exc).__name__) from None
    except PARSE_ERRORS:
        raise TokenError("DecodeError") from None
    nbf = payload.get("nbf")
    if nbf is not None and (not isinstance(nbf, int | float) or isinstance(nbf, bool)):
        raise TokenError("DecodeError")
    return claims_from(payload), nbf


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
    assert key.signing is not None  # the current key of a keyring always signs
    return jwt.encode(
        {**payload, "iss": app_settings.ISSUER, "typ": "revocations"},
        key.signing,
        algorithm=keyring.algorithm,
        headers={"kid": key.kid, "typ": FEED_HEADER_TYPE},
    )
