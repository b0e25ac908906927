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

import atexit
import os
import re
import threading
from typing import Any, Protocol

import jwt
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError

from .feed_client import FeedRevocations, RevocationsUnavailable
from .local_cache import LocalRevocationCache, tracking_connector

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
        self.issuer, self.audience, self.leeway = issuer, audience, leeway
        self.accept_untyped = accept_untyped
        self.secret = secret.encode() if isinstance(secret, str) else secret
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
            # One shared secret, one algorithm: the token's alg must be it.
            if alg != self.hmac_algorithm:
                raise Unauthorized(f"algorithm {alg!r} not allowed")
            return self.secret, self.hmac_algorithm
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


class RedisRevocations:
    """The site's own revocation entries, read from the Redis its cache uses.

    revocation.py writes ``tokens:ver:<user id>`` (the user's token_version)
    and ``tokens:sid:<session id>`` (1 once the device session has ended)
    through Django's cache, which stores integers as their digits under
    ``<KEY_PREFIX>:<VERSION>:<key>``. Pass the site's CACHE ``KEY_PREFIX``
    and ``VERSION`` (1 by default). A missing entry means no revocation was
    written (the site's database would answer; we have none): accepted.

    With ``tracking`` (the default) the answers come from this process's
    memory, kept honest by Redis exactly as the site's own workers are
    (local_cache.py, docs/production.md): one connection per process asks
    Redis to report every change of those keys (``CLIENT TRACKING ... BCAST``,
    Redis 6 or later), and a check reads Redis (one MGET) only for an entry
    it does not hold, or while tracking is not known to work: not yet
    established, dropped, lagging by more than ``max_lag`` seconds, or with a
    report unread. At most ``cache_size`` entries (two per user and device)
    are kept, the least recently used dropped first. The connection and its
    daemon thread are made on the first check in the process that checks
    (after a pre-fork server's fork); ``close()`` ends them. ``client`` must
    then be a redis-py client (its connection pool opens the tracking
    connection). Without tracking, or after ``close()``: one MGET per check.
    A Redis error is ``RevocationsUnavailable`` either way.
    """

    def __init__(
        self,
        client: Any,
        *,
        key_prefix: str = "",
        version: int = 1,
        tracking: bool = True,
        cache_size: int = 10_000,
        max_lag: float = 1.0,
    ) -> None:
        if tracking and not hasattr(client, "connection_pool"):
            raise ValueError("tracking needs a redis-py client (its connection_pool); pass tracking=False.")
        self.client = client
        self.tracking = tracking
        self.cache_size, self.max_lag = cache_size, max_lag
        self._base = f"{key_prefix}:{version}:"
        self._local: LocalRevocationCache | None = None
        self._local_lock = threading.Lock()
        self._closed = False
        self._owns_client = False

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisRevocations:
        import redis  # only services that use this source need redis-py

        source = cls(redis.Redis.from_url(url, socket_timeout=1), **kwargs)
        source._owns_client = True
        return source

    def is_revoked(self, claims: dict[str, Any]) -> bool:
        keys = (f"tokens:ver:{claims['sub']}", f"tokens:sid:{claims['sid']}")
        local = self._tracking_cache()
        generation = None
        if local is not None:
            found = local.read(keys)
            if found is not None:
                return _revoked(claims, None if found[0] == _ABSENT else found[0], found[1])
            # Taken before the read: a report applied between the two makes
            # store() refuse what the read returned.
            generation = local.generation()
        try:
            version_raw, ended_raw = self.client.mget([self._base + key for key in keys])
        except Exception as exc:  # any redis-py error: the state is unknown
            raise RevocationsUnavailable(f"redis: {exc}") from None
        # Kept in the forms the local cache holds (integers), each deciding as
        # the entry it stands for: every negative version refuses alike, and
        # a missing session marker accepts as 0 (live) does.
        version = None if version_raw is None else max(int(version_raw), -1)
        ended = 0 if ended_raw is None else int(bool(int(ended_raw)))
        if local is not None:
            # A missing version is kept as "absent": in BCAST mode Redis
            # reports a key's creation as a change, so a revocation written
            # later drops it like any other entry.
            stored = {keys[0]: _ABSENT if version is None else version, keys[1]: ended}
            local.store(generation, stored, _LOCAL_TIMEOUT)
        return _revoked(claims, version, ended)

    def close(self) -> None:
        """Stop tracking: its thread and connection end (and the client's
        connections, if ``from_url`` made it). Later checks read Redis."""
        with self._local_lock:
            self._closed = True
            local, self._local = self._local, None
        if local is not None:
            local.stop()
        if self._owns_client:
            self.client.connection_pool.disconnect()

    stop = close

    def _tracking_cache(self) -> LocalRevocationCache | None:
        local = self._local
        if local is not None and local.pid == os.getpid():
            return local
        if not self.tracking or self._closed:
            return None
        with self._local_lock:
            if self._closed:
                return None
            if self._local is None or self._local.pid != os.getpid():
                # A process forked from one that checked holds a copy of its
                # parent's cache, with no thread behind it and the parent's
                # socket: never used here (stop() ignores it outside its
                # process); this process opens its own.
                connect = tracking_connector(
                    self.client.connection_pool, self._base, name="tokens-tracking-verifier"
                )
                local = LocalRevocationCache(connect, self._base, size=self.cache_size, max_lag=self.max_lag)
                local.start()
                atexit.register(local.stop)
                self._local = local
            return self._local


# The local cache holds integers: a version the site never writes stands for
# "no entry" (the site's versions count up from 0, and -1 marks an inactive
# user; every version read is clamped to -1 or above before it is stored).
_ABSENT = -2
# Entries are trusted while Redis reports their changes; this only bounds how
# long one outlives a report that tracking failed to deliver undetected.
_LOCAL_TIMEOUT = 3600.0


def _revoked(claims: dict[str, Any], version: int | None, ended: int) -> bool:
    if ended:
        return True
    # Versions only grow: an entry above the token's means a bump since it
    # was issued; one below it is stale (the site repairs it) and proves nothing.
    # -1 is what the site caches for an inactive or deleted user.
    return version is not None and (version > claims["ver"] or version < 0)
