"""A resource server that trusts authproject's access tokens and honours its revocations.

A separate process with no database and no Django: it reads
``Authorization: Bearer <access token>`` and checks it with
``tokens_app.verifier`` (PyJWT and the standard library only): the signature
by the site's JWKS (or, under HS256, the shared access secret), the header's
``typ`` (``at+jwt``, RFC 9068), ``iss``, ``aud`` (if configured), ``exp`` and
``typ == "access"``; then whether the site has revoked it since, through the
site's Redis (answered from memory that Redis keeps honest, as the site's own
workers do; no Redis command per request at steady state) or its signed
revocation feed. Anything else is a 401.
See README.md in this folder.

    JWKS_URL=https://auth.example.com/.well-known/jwks.json \\
    REVOCATION_FEED_URL=https://auth.example.com/revocations/ REVOCATION_FEED_CREDENTIAL=... \\
    TOKEN_ISSUER=authproject python examples/resource_server/server.py
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from wsgiref.simple_server import WSGIRequestHandler, make_server

import jwt

from tokens_app.verifier import (
    AccessVerifier,
    FeedRevocations,
    RedisRevocations,
    Revocations,
    RevocationsUnavailable,
    Unauthorized,
    Unavailable,
)

logger = logging.getLogger("resource_server")


@dataclass(frozen=True)
class Config:
    issuer: str
    jwks_url: str | None = None
    secret: str | None = None
    secret_fallbacks: tuple[str, ...] = ()
    audience: str | None = None
    leeway: int = 10
    jwks_cache_seconds: int = 300
    jwks_refresh_cooldown: int = 30
    accept_untyped: bool = True
    redis_url: str | None = None
    redis_key_prefix: str = ""
    redis_tracking: bool = True
    feed_url: str | None = None
    feed_credential: str = ""
    feed_poll_interval: float = 5.0

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ.get
        return cls(
            issuer=env("TOKEN_ISSUER", "authproject"),
            jwks_url=env("JWKS_URL") or None,
            secret=env("ACCESS_TOKEN_SECRET") or None,
            # As the site reads its own: comma-separated, during a rotation.
            secret_fallbacks=tuple(
                part.strip() for part in env("ACCESS_TOKEN_SECRET_FALLBACKS", "").split(",") if part.strip()
            ),
            audience=env("TOKEN_AUDIENCE") or None,
            leeway=int(env("TOKEN_LEEWAY", "10")),
            jwks_cache_seconds=int(env("JWKS_CACHE_SECONDS", "300")),
            jwks_refresh_cooldown=int(env("JWKS_REFRESH_COOLDOWN", "30")),
            accept_untyped=env("ACCEPT_UNTYPED_TOKENS", "1") == "1",
            redis_url=env("REVOCATION_REDIS_URL") or None,
            redis_key_prefix=env("REVOCATION_REDIS_KEY_PREFIX", ""),
            redis_tracking=env("REVOCATION_REDIS_TRACKING", "1") == "1",
            feed_url=env("REVOCATION_FEED_URL") or None,
            feed_credential=env("REVOCATION_FEED_CREDENTIAL", ""),
            feed_poll_interval=float(env("REVOCATION_FEED_POLL_INTERVAL", "5")),
        )


def make_verifier(config: Config) -> AccessVerifier:
    revocations: Revocations | None = None
    if config.redis_url:
        revocations = RedisRevocations.from_url(
            config.redis_url, key_prefix=config.redis_key_prefix, tracking=config.redis_tracking
        )
    elif config.feed_url:
        revocations = FeedRevocations(
            config.feed_url, credential=config.feed_credential, poll_interval=config.feed_poll_interval
        )
    verifier = AccessVerifier(
        issuer=config.issuer,
        jwks_url=config.jwks_url,
        secret=config.secret,
        secret_fallbacks=config.secret_fallbacks,
        audience=config.audience,
        leeway=config.leeway,
        accept_untyped=config.accept_untyped,
        revocations=revocations,
        jwks_cache_seconds=config.jwks_cache_seconds,
        jwks_refresh_cooldown=config.jwks_refresh_cooldown,
    )
    if isinstance(revocations, FeedRevocations):
        try:
            revocations.start()  # first poll now; then every interval, off the request path
        except RevocationsUnavailable:
            logger.warning("revocation feed unreachable at start: answering 503 until it is")
    return verifier


def _json(start_response, status: str, body: dict, headers=()) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers],
    )
    return [data]


def make_app(verifier: AccessVerifier):
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
        except Unavailable as exc:
            logger.error("keys or revocations unavailable: %s", exc)
            return _json(
                start_response,
                "503 Service Unavailable",
                {"detail": "Cannot check tokens right now.", "code": "keys_unavailable"},
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
    app = make_app(make_verifier(Config.from_env()))
    with make_server(host, port, app, handler_class=_QuietHandler) as server:
        logger.info("listening on http://%s:%d/", host, port)
        server.serve_forever()


if __name__ == "__main__":
    main()
