"""A resource server that trusts authproject's access tokens knowing only its JWKS URL.

A separate process with no database, no shared secret and no Django: it reads
``Authorization: Bearer <access token>``, finds the public key named by the
token's ``kid`` in the site's JWKS (PyJWT's ``PyJWKClient``, cached), and
checks the header's ``typ`` (``at+jwt``, RFC 9068), signature, ``iss``,
``aud`` (if configured), ``exp`` and ``typ == "access"``. Anything else is a
401. See README.md in this folder.

    JWKS_URL=https://auth.example.com/.well-known/jwks.json \\
    TOKEN_ISSUER=authproject python examples/resource_server/server.py

Standard library plus PyJWT (with ``cryptography``) only.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from wsgiref.simple_server import WSGIRequestHandler, make_server

import jwt
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError

logger = logging.getLogger("resource_server")

# Public-key algorithms only: an HS256 token "signed" with a published public
# key as the secret (algorithm confusion) never reaches the signature check.
ALLOWED_ALGORITHMS = frozenset({"EdDSA", "ES256", "RS256"})
# A token never chooses or ships its own key.
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit"})
KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TOKEN_BYTES = 4096
# RFC 9068 section 4: an access token is typed "at+jwt" (or its full media
# type). Tokens the site issued before it typed them say "JWT": accepted while
# ACCEPT_UNTYPED_TOKENS is on (the site's TOKENS_ACCEPT_UNTYPED_TOKENS, the
# same one REFRESH_LIFETIME after its deploy).
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
LEGACY_TOKEN_TYPES = frozenset({None, "jwt"})


class Unauthorized(Exception):
    """The request does not carry a token we accept (the reason is logged, never sent)."""


class KeysUnavailable(Exception):
    """The JWKS cannot be fetched: our problem, not the client's (503)."""


@dataclass(frozen=True)
class Config:
    jwks_url: str
    issuer: str
    audience: str | None = None
    leeway: int = 10
    jwks_cache_seconds: int = 300
    jwks_refresh_cooldown: int = 30
    accept_untyped: bool = True

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            jwks_url=os.environ["JWKS_URL"],
            issuer=os.environ.get("TOKEN_ISSUER", "authproject"),
            audience=os.environ.get("TOKEN_AUDIENCE") or None,
            leeway=int(os.environ.get("TOKEN_LEEWAY", "10")),
            jwks_cache_seconds=int(os.environ.get("JWKS_CACHE_SECONDS", "300")),
            jwks_refresh_cooldown=int(os.environ.get("JWKS_REFRESH_COOLDOWN", "30")),
            accept_untyped=os.environ.get("ACCEPT_UNTYPED_TOKENS", "1") == "1",
        )


class Verifier:
    def __init__(self, config: Config) -> None:
        self.config = config
        # The JWK set is cached for jwks_cache_seconds; an unknown kid refetches
        # it at most once per cooldown, so random kids cannot make us hammer the site.
        self.jwks = PyJWKClient(
            config.jwks_url,
            cache_jwk_set=True,
            lifespan=config.jwks_cache_seconds,
            cooldown_duration=config.jwks_refresh_cooldown,
            timeout=5,
        )

    def verify(self, token: str) -> dict:
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthorized("token too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed header: {exc}") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALLOWED_ALGORITHMS:
            raise Unauthorized(f"algorithm {alg!r} not allowed")
        if FORBIDDEN_HEADERS & header.keys():
            raise Unauthorized("forbidden header")
        token_type = header.get("typ")
        if isinstance(token_type, str):
            token_type = token_type.lower()  # media types compare case-insensitively
        if token_type not in ACCESS_TOKEN_TYPES and not (
            self.config.accept_untyped and token_type in LEGACY_TOKEN_TYPES
        ):
            raise Unauthorized(f"header typ {header.get('typ')!r} is not an access token's")
        if not isinstance(kid, str) or not KID.match(kid):
            raise Unauthorized("bad kid")
        try:
            key = self.jwks.get_signing_key(kid)
        except PyJWKClientConnectionError as exc:
            raise KeysUnavailable(str(exc)) from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"no key: {exc}") from None
        # The key decides the algorithm (its JWK "alg"), not the token.
        if key.algorithm_name != alg:
            raise Unauthorized(f"token alg {alg} does not match key alg {key.algorithm_name}")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name],
                issuer=self.config.issuer,
                audience=self.config.audience,
                leeway=self.config.leeway,
                options={"require": ["exp", "iat", "iss", "sub", "typ"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"{type(exc).__name__}: {exc}") from None
        if claims.get("typ") != "access":
            raise Unauthorized("not an access token")
        return claims


def _json(start_response, status: str, body: dict, headers=()) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers],
    )
    return [data]


def make_app(verifier: Verifier):
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "ok"})
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("no bearer token")
            claims = verifier.verify(token.strip())
        except Unauthorized as exc:
            logger.info("refused: %s", exc)
            return _json(
                start_response,
                "401 Unauthorized",
                {"detail": "Invalid or missing access token.", "code": "token_invalid"},
                [("WWW-Authenticate", 'Bearer error="invalid_token"')],
            )
        except KeysUnavailable as exc:
            logger.error("JWKS unavailable: %s", exc)
            return _json(
                start_response,
                "503 Service Unavailable",
                {"detail": "Cannot fetch the signing keys.", "code": "keys_unavailable"},
            )
        return _json(
            start_response,
            "200 OK",
            {
                "sub": claims["sub"],
                "username": claims.get("name", ""),
                "kid": jwt.get_unverified_header(token)["kid"],
            },
        )

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        logger.debug(format, *args)


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(levelname)s %(name)s %(message)s"
    )
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8001"))
    app = make_app(Verifier(Config.from_env()))
    with make_server(host, port, app, handler_class=_QuietHandler) as server:
        logger.info("listening on http://%s:%d/", host, port)
        server.serve_forever()


if __name__ == "__main__":
    main()
