"""Verify this site's access tokens in another Python service, without Django.

Imports only the standard library and PyJWT (plus ``redis`` if you pass a
``RedisRevocations``), so a FastAPI, Flask or plain WSGI service can do::

    from tokens_app.verifier import AccessVerifier, FeedRevocations

    verifier = AccessVerifier(
        issuer="authproject",
        jwks_url="https://auth.example.com/.well-known/jwks.json",   # or secret=...
        revocations=FeedRevocations("https://auth.example.com/revocations/", credential="..."),
    )
    claims = verifier.verify(token)   # Unauthorized / Unavailable otherwise

Keys: the site's JWKS (EdDSA, ES256, RS256) or, under HS256, the shared
access secret; never both, so an HMAC token cannot be "signed" with a
published public key. Revocation: ``RedisRevocations`` reads the entries the
site writes (revocation.py), answered from memory kept honest by Redis's
reports as the site's own workers are (local_cache.py); ``FeedRevocations``
polls the signed feed (feed.py) for a service with no Redis access.
docs/integrations.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

import jwt
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError

from .feed_client import FeedRevocations, RevocationsUnavailable
from .key_ids import hmac_key_id
from .redis_revocations import RedisRevocations

__all__ = [
    "AccessVerifier",
    "FeedRevocations",
    "RedisRevocations",
    "Revocations",
    "RevocationsUnavailable",
    "Unauthorized",
    "Unavailable",
]

ASYMMETRIC_ALGORITHMS = frozenset({"EdDSA", "ES256", "RS256"})
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
# A token never chooses or ships its own key.
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64"})
KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TOKEN_BYTES = 4096
# RFC 9068: access tokens are typed "at+jwt"; "JWT" (or none) is what tokens
# issued before explicit typing carry, accepted while accept_untyped is on.
ACCESS_TYPES = frozenset({"at+jwt", "application/at+jwt"})
LEGACY_TOKEN_TYPES = frozenset({None, "jwt"})
FEED_TYPE = "revocations+jwt"


class Unauthorized(Exception):
    """Not a token we accept: answer 401 (log the reason, never send it)."""


class Unavailable(Exception):
    """Keys or revocation state cannot be read: our problem, answer 503."""


class Revocations(Protocol):
    def is_revoked(self, claims: dict[str, Any]) -> bool: ...


class AccessVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str | None = None,
        secret: str | bytes | None = None,
        secret_fallbacks: Sequence[str | bytes] = (),
        hmac_algorithm: str = "HS256",
        audience: str | None = None,
        leeway: int = 10,
        accept_untyped: bool = True,
        revocations: Revocations | None = None,
        jwks_cache_seconds: int = 300,
        jwks_refresh_cooldown: int = 30,
    ) -> None:
        if (jwks_url is None) == (secret is None):
            raise ValueError("Pass exactly one of jwks_url (key pairs) or secret (HS256).")
        if secret is not None and hmac_algorithm not in HMAC_ALGORITHMS:
            raise ValueError(f"hmac_algorithm must be one of {sorted(HMAC_ALGORITHMS)}.")
        if secret_fallbacks and secret is None:
            raise ValueError("secret_fallbacks go with secret (the current one), not with jwks_url.")
        self.issuer, self.audience, self.leeway = issuer, audience, leeway
        self.accept_untyped = accept_untyped
        # The site names each secret in the token's kid (key_ids.py): the
        # current one and, while a rotation is under way, the previous ones
        # (the site's TOKENS_ACCESS_SECRET_FALLBACKS) are found by it.
        secrets = [] if secret is None else [secret, *secret_fallbacks]
        self.secrets = {hmac_key_id(s): s.encode() if isinstance(s, str) else s for s in reversed(secrets)}
        self.hmac_algorithm = hmac_algorithm
        # The JWK set is cached; an unknown kid refetches it at most once per
        # cooldown, so random kids cannot make us hammer the site.
        self.jwks = (
            None
            if jwks_url is None
            else PyJWKClient(
                jwks_url,
                cache_jwk_set=True,
                lifespan=jwks_cache_seconds,
                cooldown_duration=jwks_refresh_cooldown,
                timeout=5,
            )
        )
        self.revocations = revocations
        if isinstance(revocations, FeedRevocations):
            revocations.bind(self.verify_feed)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid, unrevoked access token."""
        claims = self._decode(token, ACCESS_TYPES, self.accept_untyped)
        if claims.get("typ") != "access":
            raise Unauthorized("not an access token")
        for name, kind in (("sub", str), ("sid", str), ("ver", int)):
            if not isinstance(claims.get(name), kind) or isinstance(claims.get(name), bool):
                raise Unauthorized(f"claim {name} missing or of the wrong type")
        if self.revocations is not None:
            try:
                revoked = self.revocations.is_revoked(claims)
            except RevocationsUnavailable as exc:
                raise Unavailable(str(exc)) from None
            if revoked:
                raise Unauthorized("revoked")
        return claims

    def verify_feed(self, document: str) -> dict[str, Any]:
        """The payload of a revocation feed page, signed by the same keys."""
        claims = self._decode(document, frozenset({FEED_TYPE}), False)
        if claims.get("typ") != "revocations":
            raise Unauthorized("not a revocation feed")
        return claims

    def _decode(self, token: str, types: frozenset[str], accept_untyped: bool) -> dict[str, Any]:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
            raise Unauthorized("token missing or too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed header: {exc}") from None
        if FORBIDDEN_HEADERS & header.keys():
            raise Unauthorized("forbidden header")
        token_type = header.get("typ")
        if isinstance(token_type, str):
            token_type = token_type.lower()  # media types compare case-insensitively
        if token_type not in types and not (accept_untyped and token_type in LEGACY_TOKEN_TYPES):
            raise Unauthorized(f"header typ {header.get('typ')!r} not accepted here")
        kid = header.get("kid")
        if not isinstance(kid, str) or not KID.match(kid):
            raise Unauthorized("bad kid")
        key, algorithm = self._key(header.get("alg"), kid)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=self.audience if types is ACCESS_TYPES else None,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "typ"], "verify_aud": types is ACCESS_TYPES},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"{type(exc).__name__}: {exc}") from None

    def _key(self, alg: object, kid: str) -> tuple[Any, str]:
        if self.jwks is None:
            # Shared secrets, one algorithm: the token's alg must be it.
            if alg != self.hmac_algorithm:
                raise Unauthorized(f"algorithm {alg!r} not allowed")
            secret = self.secrets.get(kid)
            if secret is None:
                raise Unauthorized("kid names no secret of ours")
            return secret, self.hmac_algorithm
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise Unauthorized(f"algorithm {alg!r} not allowed")
        try:
            key = self.jwks.get_signing_key(kid)
        except PyJWKClientConnectionError as exc:
            raise Unavailable(str(exc)) from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"no key: {exc}") from None
        # The key decides the algorithm (its JWK "alg"), not the token.
        if key.algorithm_name != alg:
            raise Unauthorized(f"token alg {alg} does not match key alg {key.algorithm_name}")
        return key.key, key.algorithm_name
