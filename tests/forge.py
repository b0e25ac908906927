"""Hand-made JWTs for tests, built with hmac and base64 only.

Forging tokens without PyJWT keeps the tests independent of the library under
test: a bug in how tokens.py calls PyJWT cannot hide behind the same call here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

from django.conf import settings

from tokens_app.keys import hmac_key_id

_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64_json(value) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def unb64_json(segment: str):
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def sign(header: dict, payload: dict, secret: str | bytes) -> str:
    """Encode and sign with the algorithm the header names ("none": no signature)."""
    signing_input = f"{b64_json(header)}.{b64_json(payload)}"
    alg = header.get("alg")
    if alg == "none":
        return signing_input + "."
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, signing_input.encode(), _DIGESTS[alg]).digest()
    return f"{signing_input}.{b64(digest)}"


def claims(user=None, *, typ: str = "access", lifetime: int = 300, **overrides) -> dict:
    """A complete, valid payload for ``user`` (or for a user id that does not exist)."""
    now = int(time.time())
    payload = {
        "iss": settings.TOKENS_ISSUER,
        "sub": str(user.pk) if user is not None else "987654",
        "ver": user.token_version if user is not None else 0,
        "typ": typ,
        "sid": str(uuid.uuid4()),
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
        "name": user.get_username() if user is not None else "ghost",
    }
    payload.update(overrides)
    return payload


def secret_for(typ: str) -> str:
    return settings.TOKENS_ACCESS_SECRET if typ == "access" else settings.TOKENS_REFRESH_SECRET


def token(payload: dict, *, typ: str | None = None, secret: str | None = None, **header) -> str:
    """A token signed like the real ones (HS256, kid of the right key) unless told otherwise."""
    typ = typ or payload.get("typ", "access")
    secret = secret if secret is not None else secret_for(typ)
    head = {"alg": "HS256", "typ": "JWT", "kid": hmac_key_id(secret_for(typ))}
    head.update(header)
    return sign({k: v for k, v in head.items() if v is not None}, payload, secret)
