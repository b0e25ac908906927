"""A tiny, independent JWS signer for tests: forges the tokens an attacker would send.

Written with hmac and cryptography only, so the tests do not trust the code
under test (or PyJWT) to build the hostile tokens they feed it.
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


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def header_of(token: str) -> dict:
    return json.loads(unb64(token.split(".")[0]))


def payload_of(token: str) -> dict:
    return json.loads(unb64(token.split(".")[1]))


def claims_for(user, *, typ: str = "access", issuer: str = "authproject", **extra) -> dict:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": str(user.pk),
        "ver": user.token_version,
        "typ": typ,
        "sid": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "name": user.username,
    }
    claims.update(extra)
    return claims


def sign(header: dict, payload: dict, key, *, using: str | None = None) -> str:
    """Compact JWS signed as ``using`` (default: ``header["alg"]``); ``key`` is bytes (HS*),
    a private key object, or None (no signature)."""
    signing_input = (
        b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64(json.dumps(payload, separators=(",", ":")).encode())
    ).encode()
    alg = using or header.get("alg")
    if alg == "none" or key is None:
        signature = b""
    elif alg.startswith("HS"):
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        signature = hmac.new(key, signing_input, digest).digest()
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(signing_input)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = utils.decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        raise TypeError(key)
    return signing_input.decode() + "." + b64(signature)


def load_private(path) -> object:
    with open(path, "rb") as file:
        return serialization.load_pem_private_key(file.read(), password=None)
