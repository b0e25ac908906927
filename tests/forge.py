"""The tests' one JWT forger, and the names of the auth cookies.

Tokens are built with hmac, base64 and cryptography only, never PyJWT: the
tests do not trust the code under test (or the library it calls) to build
the hostile tokens they feed it, and a bug in how tokens.py calls PyJWT cannot
hide behind the same call here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from django.conf import settings

from tokens_app.keys import hmac_key_id

# The auth cookies of a test run (production mode: Secure, so the __Host- names).
ACCESS_COOKIE = "__Host-access_token"
REFRESH_COOKIE = "__Host-refresh_token"

_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64_json(value) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def unb64_json(segment: str):
    return json.loads(unb64(segment))


def header_of(token: str) -> dict:
    return unb64_json(token.split(".")[0])


def payload_of(token: str) -> dict:
    return unb64_json(token.split(".")[1])


def _signature(alg: str, key, signing_input: bytes) -> bytes:
    if alg.startswith("HS"):
        secret = key.encode() if isinstance(key, str) else key
        return hmac.new(secret, signing_input, _DIGESTS[alg]).digest()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(signing_input)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = utils.decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    raise TypeError(key)


def sign(header: dict, payload: dict, key, *, using: str | None = None) -> str:
    """A compact JWS signed as ``using`` (default: ``header["alg"]``). ``key`` is a
    secret (str or bytes, HS*), a private key object, or None: no signature (as "none")."""
    signing_input = f"{b64_json(header)}.{b64_json(payload)}"
    alg = using or header.get("alg")
    if alg == "none" or key is None:
        return signing_input + "."
    return f"{signing_input}.{b64(_signature(alg, key, signing_input.encode()))}"


def load_private(path) -> object:
    with open(path, "rb") as file:
        return serialization.load_pem_private_key(file.read(), password=None)


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
