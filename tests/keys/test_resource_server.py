"""examples/resource_server beside the running site: it trusts our tokens through the JWKS alone.

The site runs in a live server thread (so settings overrides act like a
redeploy); the resource server is a separate process that knows nothing but
the JWKS URL and the issuer.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests import forge
from tests.conftest import PASSWORD
from tests.forge import ACCESS_COOKIE, header_of, load_private, payload_of, sign
from tests.live_servers import free_port, spawn
from tokens_app.keys import hmac_key_id

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "examples" / "resource_server" / "server.py"
SITE_PORTS = range(18410, 18430)
RESOURCE_PORTS = range(18430, 18450)


@pytest.fixture
def site(transactional_db, key_pairs, use_keys):
    from pytest_django.live_server_helper import LiveServer

    use_keys("EdDSA", key_pairs["EdDSA"][0])
    server = LiveServer(f"127.0.0.1:{free_port(ports=SITE_PORTS)}")
    yield server.url
    server.stop()


@pytest.fixture
def start_resource_server(site, tmp_path):
    servers = []

    def start(**env) -> str:
        port = free_port(ports=RESOURCE_PORTS)
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "JWKS_URL": f"{site}/.well-known/jwks.json",
            "TOKEN_ISSUER": "authproject",
            "PORT": str(port),
            **env,
        }
        server = spawn(
            [sys.executable, str(SERVER)],
            port=port,
            env=environment,
            log=tmp_path / f"resource-server-{port}.log",
            timeout=15,
        )
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


def http(method: str, url: str, *, headers=None, body: bytes | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def sign_in_over_http(site: str, username: str = "alice", password: str = PASSWORD) -> str:
    """Log in through the site's JSON API, as a client would: the access token from Set-Cookie."""
    status, headers, body = http("GET", f"{site}/api/auth/csrf/")
    assert status == 200
    csrf = json.loads(body)["csrfToken"]
    cookie = SimpleCookie()
    cookie.load(headers["Set-Cookie"])
    status, headers, body = http(
        "POST",
        f"{site}/api/auth/login/",
        headers={
            "Content-Type": "application/json",
            "X-CSRFToken": csrf,
            "Cookie": f"__Host-csrftoken={cookie['__Host-csrftoken'].value}",
        },
        body=json.dumps({"username": username, "password": password}).encode(),
    )
    assert status == 200, body
    jar = SimpleCookie()
    for value in headers.get_all("Set-Cookie"):
        jar.load(value)
    return jar[ACCESS_COOKIE].value


def call(resource: str, token: str) -> tuple[int, dict]:
    status, _, body = http("GET", f"{resource}/orders", headers={"Authorization": f"Bearer {token}"})
    return status, json.loads(body)


def test_a_token_from_the_site_is_accepted(alice, site, start_resource_server):
    resource = start_resource_server()
    token = sign_in_over_http(site)

    status, body = call(resource, token)

    assert status == 200
    assert body["username"] == "alice"
    assert body["sub"] == str(alice.pk)


def test_requests_without_a_valid_bearer_token_get_401(alice, site, start_resource_server):
    resource = start_resource_server()

    status, headers, _ = http("GET", f"{resource}/orders")
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert call(resource, "not-a-token")[0] == 401
    assert call(resource, sign_in_over_http(site) + "x")[0] == 401


def test_old_and_new_tokens_are_accepted_across_a_key_rotation(
    alice, settings, key_pairs, use_keys, site, start_resource_server
):
    current, nxt, _ = key_pairs["EdDSA"]
    # Resource server caches the JWKS for 1 s here (5 min in production, as the site's max-age).
    settings.TOKENS_JWKS_MAX_AGE = 1
    resource = start_resource_server(JWKS_CACHE_SECONDS="1")
    old_token = sign_in_over_http(site)
    assert call(resource, old_token)[0] == 200

    # docs/key-rotation.md: publish the next key, wait the JWKS max-age, then sign with it.
    use_keys("EdDSA", current, fallbacks=[nxt.public])
    time.sleep(1.2)
    use_keys("EdDSA", nxt, fallbacks=[current.public])
    new_token = sign_in_over_http(site)

    assert header_of(new_token)["kid"] != header_of(old_token)["kid"]
    assert call(resource, new_token)[0] == 200
    assert call(resource, old_token)[0] == 200, "the old key is a fallback: still accepted"


def test_a_new_key_is_fetched_when_an_unknown_kid_arrives(
    alice, key_pairs, use_keys, site, start_resource_server
):
    # Without publishing first: PyJWKClient refetches the JWKS on an unknown kid
    # (at most once per cooldown; 0 here so the test need not wait 30 s).
    current, nxt, _ = key_pairs["EdDSA"]
    resource = start_resource_server(JWKS_REFRESH_COOLDOWN="0")
    old_token = sign_in_over_http(site)
    assert call(resource, old_token)[0] == 200

    use_keys("EdDSA", nxt, fallbacks=[current.public])

    assert call(resource, sign_in_over_http(site))[0] == 200
    assert call(resource, old_token)[0] == 200


def test_a_token_signed_with_an_unpublished_key_pair_is_refused(
    alice, key_pairs, site, start_resource_server
):
    resource = start_resource_server()
    real = sign_in_over_http(site)
    foreign = load_private(key_pairs["EdDSA"][2].private)

    # The published kid with another private key, and the other key's own name.
    same_kid = sign(header_of(real), payload_of(real), foreign)
    other_kid = sign(
        {**header_of(real), "kid": "Zm9yZWlnbi1rZXktbm90LXB1Ymxpc2hlZA"}, payload_of(real), foreign
    )

    assert call(resource, real)[0] == 200
    assert call(resource, same_kid)[0] == 401
    assert call(resource, other_kid)[0] == 401


def test_an_hs256_token_keyed_with_the_public_key_is_refused(alice, key_pairs, site, start_resource_server):
    resource = start_resource_server()
    real = sign_in_over_http(site)
    _, _, body = http("GET", f"{site}/.well-known/jwks.json")
    [jwk] = json.loads(body)["keys"]
    claims = payload_of(real)
    confused = [
        sign({"alg": "HS256", "kid": jwk["kid"], "typ": "JWT"}, claims, secret)
        for secret in (
            key_pairs["EdDSA"][0].public.read_bytes(),  # the PEM, as classic attacks do
            json.dumps(jwk).encode(),  # the JWK as published
            jwk["x"].encode(),  # its raw public member
        )
    ]

    assert call(resource, real)[0] == 200
    assert [call(resource, token)[0] for token in confused] == [401, 401, 401]


def test_tokens_failing_a_claim_check_are_refused(alice, settings, key_pairs, site, start_resource_server):
    resource = start_resource_server(TOKEN_AUDIENCE="orders-api")
    settings.TOKENS_AUDIENCE = "orders-api"
    real = sign_in_over_http(site)
    key = load_private(key_pairs["EdDSA"][0].private)
    header, claims = header_of(real), payload_of(real)

    def forged(**changes) -> str:
        # Signed with the site's own private key: only the claim is wrong.
        return sign(header, {**claims, **changes}, key)

    assert call(resource, real)[0] == 200
    assert call(resource, forged())[0] == 200, "the control: the forging itself is sound"
    assert call(resource, forged(typ="refresh"))[0] == 401
    assert call(resource, forged(iss="someone-else"))[0] == 401
    assert call(resource, forged(aud="billing-api"))[0] == 401
    assert call(resource, forged(exp=int(time.time()) - 60))[0] == 401
    without_aud = {name: value for name, value in claims.items() if name != "aud"}
    assert call(resource, sign(header, without_aud, key))[0] == 401
    jku = sign({**header, "jku": "https://keys.attacker.example/jwks.json"}, claims, key)
    assert call(resource, jku)[0] == 401
    stranger = ed25519.Ed25519PrivateKey.generate()
    assert call(resource, sign({**header, "jwk": {"kty": "OKP"}}, claims, stranger))[0] == 401


def test_only_a_header_typed_as_an_access_token_is_accepted(alice, key_pairs, site, start_resource_server):
    real = sign_in_over_http(site)
    assert header_of(real)["typ"] == "at+jwt"
    key = load_private(key_pairs["EdDSA"][0].private)
    header, claims = header_of(real), payload_of(real)

    def typed(value) -> str:
        # Signed with the site's own private key: only the header's typ differs.
        return sign({**header, "typ": value}, claims, key)

    resource = start_resource_server()
    assert call(resource, typed("application/at+jwt"))[0] == 200
    assert call(resource, typed("JWT"))[0] == 200, "issued before explicit typing: still accepted"
    assert call(resource, typed("refresh+jwt"))[0] == 401
    assert call(resource, typed("id+jwt"))[0] == 401

    strict = start_resource_server(ACCEPT_UNTYPED_TOKENS="0")
    assert call(strict, real)[0] == 200
    assert call(strict, typed("JWT"))[0] == 401


def test_during_an_hs256_secret_rotation_both_secrets_verify_and_no_other(alice, start_resource_server):
    # docs/key-rotation.md: the site signs with the new secret and keeps the
    # old one as a fallback; the service is configured the same way.
    old, new, stranger = ("old-access-secret-" + "a" * 40, "new-access-secret-" + "b" * 40, "x" * 58)
    resource = start_resource_server(JWKS_URL="", ACCESS_TOKEN_SECRET=new, ACCESS_TOKEN_SECRET_FALLBACKS=old)

    def signed_with(secret: str) -> str:
        return forge.token(forge.claims(alice), secret=secret, kid=hmac_key_id(secret))

    assert call(resource, signed_with(new))[0] == 200
    assert call(resource, signed_with(old))[0] == 200
    assert call(resource, signed_with(stranger))[0] == 401
