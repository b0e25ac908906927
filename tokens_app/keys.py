"""Signing keys: which key signs, which keys still verify, and their public names.

A *keyring* is the current key (signs new tokens) plus fallbacks (only verify
tokens issued before a rotation, until those expire), each named by a ``kid``:

- HMAC (``HS256``): the secrets from settings; ``kid`` is an HMAC of a fixed
  label under the key, so it names the key without revealing it.
- Asymmetric (``EdDSA``, ``ES256``, ``RS256``, access tokens only): the private
  key from a PEM file signs; fallback PEM files (public keys, or private keys
  of which only the public half is used) verify; ``kid`` is the RFC 7638 JWK
  thumbprint, the name other services see in our JWKS.

Keyrings are built once per distinct configuration and cached, so a request
never parses PEM or hashes a secret; a settings override (tests) or a restart
(deployments) with other values builds a new one. ``tokens.py`` passes the
prepared key objects to PyJWT; this module uses PyJWT only for the JWK form of
a public key (``to_jwk``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from django.core.exceptions import ImproperlyConfigured
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from .conf import app_settings, setting_name
from .key_ids import hmac_key_id

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset({"EdDSA", "ES256", "RS256"})
MIN_RSA_BITS = 2048

_PUBLIC_TYPES = {
    "EdDSA": (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey),
    "ES256": (ec.EllipticCurvePublicKey,),
    "RS256": (rsa.RSAPublicKey,),
}
_KEY_NAMES = {"EdDSA": "an Ed25519 key", "ES256": "an EC P-256 key", "RS256": "an RSA key"}
# The public members of a JWK by key type (RFC 7518 section 6, RFC 8037): the
# members RFC 7638 hashes, and an allow-list for what the JWKS publishes, so a
# private member ("d", "p", "q", ...) can never be published by mistake.
PUBLIC_MEMBERS = {
    "OKP": ("kty", "crv", "x"),
    "EC": ("kty", "crv", "x", "y"),
    "RSA": ("kty", "n", "e"),
}

# What the keyring holds: the raw secret (HMAC), or key objects of the types
# _check_type admits (asymmetric).
PublicKey = ed25519.Ed25519PublicKey | ed448.Ed448PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PrivateKey = (
    ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
)


@dataclass(frozen=True)
class Key:
    """One key of a keyring.

    ``signing`` is the secret (HMAC) or private key object; None for a
    fallback that only verifies. ``verifying`` is the secret or public key
    object. ``jwk`` is the public JWK (asymmetric keys only).
    """

    kid: str
    algorithm: str
    verifying: bytes | PublicKey = field(repr=False)
    signing: bytes | PrivateKey | None = field(default=None, repr=False)
    jwk: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Keyring:
    algorithm: str
    current: Key
    keys: Mapping[str, Key]

    def get(self, kid: str) -> Key | None:
        return self.keys.get(kid)

    @property
    def public_jwks(self) -> list[dict[str, str]]:
        """The public JWKs, current key first; empty for HMAC keyrings."""
        return [dict(key.jwk) for key in self.keys.values() if key.jwk is not None]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwk_members(public_key: PublicKey) -> dict[str, str]:
    """The members RFC 7638 hashes, from PyJWT's JWK of the key."""
    if isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        jwk = OKPAlgorithm.to_jwk(public_key, as_dict=True)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    elif isinstance(public_key, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        raise TypeError(f"unsupported key type {type(public_key).__name__}")
    return {name: jwk[name] for name in PUBLIC_MEMBERS[jwk["kty"]]}


def jwk_thumbprint(public_key: PublicKey) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, without whitespace."""
    canonical = json.dumps(_jwk_members(public_key), sort_keys=True, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode()).digest())


def _check_type(public_key: PublicKeyTypes, algorithm: str, source: str) -> PublicKey:
    if not isinstance(public_key, _PUBLIC_TYPES[algorithm]):
        raise ImproperlyConfigured(
            f"{source} holds a {type(public_key).__name__}, but "
            f"{setting_name('TOKENS_ACCESS_ALGORITHM')}={algorithm} "
            f"needs {_KEY_NAMES[algorithm]}. Generate one with "
            f"`python manage.py generate_secrets --algorithm {algorithm} --key-file PATH`."
        )
    if isinstance(public_key, ec.EllipticCurvePublicKey) and not isinstance(public_key.curve, ec.SECP256R1):
        raise ImproperlyConfigured(f"{source} is on curve {public_key.curve.name}; ES256 needs P-256.")
    return cast(PublicKey, public_key)


def _read_pem(path: str, source: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(f"{source}: cannot read {path!r} ({exc.strerror}).") from None


def load_private_key(path: str, algorithm: str, *, source: str | None = None) -> PrivateKey:
    """The private key in the PEM file at ``path``, checked against ``algorithm``."""
    source = source or setting_name("TOKENS_ACCESS_PRIVATE_KEY_FILE")
    try:
        private_key = serialization.load_pem_private_key(_read_pem(path, source), password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"{source}: {path!r} is not an unencrypted PEM private key ({exc})."
        ) from None
    _check_type(private_key.public_key(), algorithm, source)
    return cast(PrivateKey, private_key)  # its public half passed _check_type


def load_public_key(path: str, algorithm: str, *, source: str | None = None) -> PublicKey:
    """The public key in the PEM file at ``path``; a private key file gives its public half."""
    source = source or setting_name("TOKENS_ACCESS_PUBLIC_KEY_FALLBACK_FILES")
    pem = _read_pem(path, source)
    try:
        public_key = serialization.load_pem_public_key(pem)
    except ValueError:
        try:
            public_key = serialization.load_pem_private_key(pem, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(
                f"{source}: {path!r} is not a PEM public or private key ({exc})."
            ) from None
    return _check_type(public_key, algorithm, source)


def holds_private_key(path: str) -> bool:
    """Whether a fallback file carries a private key it does not need (for a system check)."""
    try:
        return b"PRIVATE KEY-----" in Path(path).read_bytes()
    except OSError:
        return False


def _asymmetric_key(algorithm: str, public_key: PublicKey, private_key: PrivateKey | None = None) -> Key:
    kid = jwk_thumbprint(public_key)
    jwk = {**_jwk_members(public_key), "kid": kid, "alg": algorithm, "use": "sig"}
    return Key(
        kid=kid, algorithm=algorithm, verifying=public_key, signing=private_key, jwk=MappingProxyType(jwk)
    )


def _ring(algorithm: str, keys: list[Key]) -> Keyring:
    by_kid: dict[str, Key] = {}
    for key in keys:
        by_kid.setdefault(key.kid, key)  # a fallback equal to the current key adds nothing
    return Keyring(algorithm=algorithm, current=keys[0], keys=MappingProxyType(by_kid))


@functools.lru_cache(maxsize=16)
def hmac_keyring(algorithm: str, current: str, fallbacks: tuple[str, ...]) -> Keyring:
    keys: list[Key] = []
    for secret in (current, *fallbacks):
        raw = secret.encode()
        keys.append(Key(kid=hmac_key_id(raw), algorithm=algorithm, verifying=raw, signing=raw))
    return _ring(algorithm, keys)


@functools.lru_cache(maxsize=16)
def asymmetric_keyring(algorithm: str, private_key_file: str, fallback_files: tuple[str, ...]) -> Keyring:
    if not private_key_file:
        raise ImproperlyConfigured(
            f"{setting_name('TOKENS_ACCESS_ALGORITHM')}={algorithm} needs "
            f"{setting_name('TOKENS_ACCESS_PRIVATE_KEY_FILE')}, the path of a PEM private key "
            f"(`python manage.py generate_secrets --algorithm {algorithm} --key-file PATH`)."
        )
    private_key = load_private_key(private_key_file, algorithm)
    keys = [_asymmetric_key(algorithm, private_key.public_key(), private_key)]
    keys += [_asymmetric_key(algorithm, load_public_key(path, algorithm)) for path in fallback_files]
    return _ring(algorithm, keys)


def access_keyring() -> Keyring:
    algorithm = app_settings.ACCESS_ALGORITHM
    if algorithm in ASYMMETRIC_ALGORITHMS:
        return asymmetric_keyring(
            algorithm,
            app_settings.ACCESS_PRIVATE_KEY_FILE,
            tuple(app_settings.ACCESS_PUBLIC_KEY_FALLBACK_FILES),
        )
    if algorithm not in HMAC_ALGORITHMS:
        raise ImproperlyConfigured(
            f"{setting_name('TOKENS_ACCESS_ALGORITHM')}={algorithm!r} is not supported: "
            "use HS256 (the default), EdDSA, ES256 or RS256."
        )
    return hmac_keyring(algorithm, app_settings.ACCESS_SECRET, tuple(app_settings.ACCESS_SECRET_FALLBACKS))


def refresh_keyring() -> Keyring:
    # Refresh tokens only ever come back to us: a shared secret is enough.
    return hmac_keyring(
        app_settings.REFRESH_ALGORITHM,
        app_settings.REFRESH_SECRET,
        tuple(app_settings.REFRESH_SECRET_FALLBACKS),
    )


def generate_private_key_pem(algorithm: str) -> bytes:
    """A fresh private key for ``algorithm`` as unencrypted PKCS#8 PEM."""
    private_key: PrivateKey
    if algorithm == "EdDSA":
        private_key = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "ES256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "RS256":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        raise ValueError(algorithm)
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(private_pem: bytes) -> bytes:
    public_key = serialization.load_pem_private_key(private_pem, password=None).public_key()
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_secret_file(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` readable by its owner only (0600), from the first byte on."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode on O_TRUNC
    with os.fdopen(fd, "wb") as file:
        file.write(data)
