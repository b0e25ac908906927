"""Tokens whose header tries to choose the key or the algorithm: refused, never a 500 or a fetch.

Every hostile token is validly signed wherever a signature can be made, so what
refuses it is the header rule, not a bad signature.
"""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from django.test import Client

from tests.forge import ACCESS_COOKIE, b64, load_private, payload_of, sign
from tokens_app.keys import hmac_key_id

from .conftest import sign_in

ATTACKER_HOST = "keys.attacker.example"
ATTACKER_URL = f"https://{ATTACKER_HOST}:18498/jwks.json"

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_network(monkeypatch):
    """Records every name lookup and connection; a token must never cause one to the attacker."""
    attempts: list[str] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        attempts.append(f"lookup {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        attempts.append(f"connect {address}")
        return real_connect(sock, address)

    def urlopen(url, *args, **kwargs):
        attempts.append(f"urlopen {url}")
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return attempts


@pytest.fixture(params=["HS256", "EdDSA"])
def site_key(request, settings, key_pairs, use_keys):
    """(algorithm, kid, signing key, public PEM or None) of the site's real access key."""
    if request.param == "HS256":
        secret = settings.TOKENS_ACCESS_SECRET.encode()
        return "HS256", hmac_key_id(secret), secret, None
    pair = key_pairs["EdDSA"][0]
    use_keys("EdDSA", pair)
    kid = Client().get("/.well-known/jwks.json").json()["keys"][0]["kid"]
    return "EdDSA", kid, load_private(pair.private), pair.public.read_bytes()


def _raw(header_json: str, payload: dict) -> str:
    return b64(header_json.encode()) + "." + b64(json.dumps(payload).encode()) + ".c2ln"


def hostile_tokens(alg: str, kid: str, key, public_pem: bytes | None, payload: dict) -> dict[str, str]:
    def signed(**header) -> str:
        base = {"alg": alg, "kid": kid, "typ": "JWT"}
        base.update(header)
        header = {name: value for name, value in base.items() if value is not ...}
        return sign(header, payload, key, using=alg)

    attacker = ed25519.Ed25519PrivateKey.generate()
    attacker_jwk = {"kty": "OKP", "crv": "Ed25519", "x": "A" * 43}
    other_hmac = "HS512" if alg == "HS256" else "HS256"
    tokens = {
        "kid is a number": signed(kid=12345),
        "kid is a list": signed(kid=[kid]),
        "kid is an object": signed(kid={"$ref": kid}),
        "kid is null": signed(kid=None),
        "kid is missing": signed(kid=...),
        "kid is empty": signed(kid=""),
        "kid is absurdly long": signed(kid="A" * 2000),
        "kid is longer than a cookie may be": signed(kid="A" * 5000),
        "kid is a path": signed(kid="../../etc/passwd"),
        "kid is a url": signed(kid=ATTACKER_URL),
        "kid names no key": signed(kid="bm8tc3VjaC1rZXktYXQtYWxs"),
        "kid with sql": signed(kid="x' OR '1'='1"),
        "jku header": signed(jku=ATTACKER_URL),
        "x5u header": signed(x5u=ATTACKER_URL),
        "x5c header": signed(x5c=["MIIB"]),
        "crit header": signed(crit=["exp"]),
        "jwk header with the attacker's key": sign(
            {"alg": "EdDSA", "kid": kid, "jwk": attacker_jwk}, payload, attacker
        ),
        "alg none": sign({"alg": "none", "kid": kid}, payload, None),
        "alg None": sign({"alg": "None", "kid": kid}, payload, None),
        "alg missing": signed(alg=...),
        "alg is a list": signed(alg=[alg]),
        f"alg {other_hmac} with the site's secret": (
            sign({"alg": other_hmac, "kid": kid}, payload, key)
            if alg == "HS256"
            else sign({"alg": "HS256", "kid": kid}, payload, b"guessed")
        ),
        "alg ES256 with a foreign key": sign(
            {"alg": "ES256", "kid": kid}, payload, ec.generate_private_key(ec.SECP256R1())
        ),
        "header is a list": _raw("[]", payload),
        "header is not json": _raw("{not json", payload),
        "header is not base64": "%%%." + b64(json.dumps(payload).encode()) + ".c2ln",
    }
    if public_pem is not None:
        # Algorithm confusion: HMAC keyed with the published public key.
        tokens["alg HS256 keyed with the public key PEM"] = sign(
            {"alg": "HS256", "kid": kid}, payload, public_pem
        )
    return tokens


def test_every_hostile_header_is_refused_by_the_api_without_a_fetch(alice, site_key, no_network):
    alg, kid, key, public_pem = site_key
    payload = real_claims()
    assert _api_status(sign({"alg": alg, "kid": kid}, payload, key)) == (200, None), "the control passes"

    results = {
        name: _api_status(token) for name, token in hostile_tokens(alg, kid, key, public_pem, payload).items()
    }

    assert results == dict.fromkeys(results, (401, "token_invalid"))
    assert not [attempt for attempt in no_network if ATTACKER_HOST in attempt or "18498" in attempt]


def test_every_hostile_header_sends_the_browser_to_the_login_page(alice, site_key, no_network):
    alg, kid, key, public_pem = site_key
    payload = real_claims()

    for name, token in hostile_tokens(alg, kid, key, public_pem, payload).items():
        client = Client()
        client.cookies[ACCESS_COOKIE] = token
        response = client.get("/")
        assert response.status_code == 302, name
        assert response["Location"].startswith("/accounts/login/"), name
        assert response.cookies[ACCESS_COOKIE].value == "", f"{name}: the bad cookie is cleared"
    assert not [attempt for attempt in no_network if ATTACKER_HOST in attempt or "18498" in attempt]


def real_claims() -> dict:
    # The claims of a real sign-in (a live session), so only the header can be wrong.
    access, _ = sign_in(Client())
    return payload_of(access)


def _api_status(token: str) -> tuple[int, str | None]:
    client = Client()
    client.cookies[ACCESS_COOKIE] = token
    response = client.get("/api/auth/me/")
    return response.status_code, response.json().get("code") if response.status_code != 200 else None
