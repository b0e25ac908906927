"""Access tokens signed with a private key (EdDSA, ES256, RS256), the JWKS, and key files."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from django.test import Client

from tests.forge import ACCESS_COOKIE, b64, header_of, load_private, payload_of, sign, unb64

from .conftest import ASYMMETRIC, kid_of, sign_in, token_checks

DOC = Path(__file__).resolve().parents[2] / "docs" / "key-rotation.md"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

pytestmark = pytest.mark.django_db


def me(client: Client):
    return client.get("/api/auth/me/")


def api_client_of(client: Client) -> Client:
    """The same access token without the refresh cookie: no silent refresh hides a refusal."""
    other = Client()
    other.cookies[ACCESS_COOKIE] = client.cookies[ACCESS_COOKIE].value
    return other


def jwks(client: Client | None = None) -> dict:
    response = (client or Client()).get("/.well-known/jwks.json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_access_token_is_signed_with_the_private_key_and_verified(alice, key_pairs, use_keys, algorithm):
    use_keys(algorithm, key_pairs[algorithm][0])
    client = Client()

    access, refresh = sign_in(client)

    assert header_of(access)["alg"] == algorithm
    assert header_of(refresh)["alg"] == "HS256", "refresh tokens stay with the site: HMAC"
    response = me(api_client_of(client))
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "alice"
    [published] = jwks()["keys"]
    assert kid_of(access) == published["kid"]


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_jwks_publishes_current_and_fallback_public_keys_only(key_pairs, use_keys, algorithm):
    current, previous, _ = key_pairs[algorithm]
    use_keys(algorithm, current, fallbacks=[previous.public])

    response = Client().get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert "max-age=300" in response.headers["Cache-Control"]
    assert "public" in response.headers["Cache-Control"]
    keys = response.json()["keys"]
    assert len(keys) == 2
    for key, pair in zip(keys, (current, previous), strict=True):
        assert key["alg"] == algorithm
        assert key["use"] == "sig"
        assert not PRIVATE_MEMBERS & key.keys()
        public = serialization.load_pem_public_key(pair.public.read_bytes())
        assert key == {**_expected_public_members(public), "kid": key["kid"], "alg": algorithm, "use": "sig"}
    assert keys[0]["kid"] != keys[1]["kid"]


def _expected_public_members(public) -> dict:
    # Written out independently of the code under test.
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
    if isinstance(public, ec.EllipticCurvePublicKey):
        n = public.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64(n.x.to_bytes(32, "big")),
            "y": b64(n.y.to_bytes(32, "big")),
        }
    assert isinstance(public, rsa.RSAPublicKey)
    n = public.public_numbers()
    return {"kty": "RSA", "n": b64(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")), "e": "AQAB"}


def test_jwks_under_hmac_is_404_with_an_explanation():
    response = Client().get("/.well-known/jwks.json")

    assert response.status_code == 404
    assert response.json()["code"] == "no_public_keys"
    assert "HS256" in response.json()["detail"]
    assert "no-store" in response.headers["Cache-Control"]


def test_jwks_refuses_writes(key_pairs, use_keys):
    use_keys("EdDSA", key_pairs["EdDSA"][0])
    assert Client().post("/.well-known/jwks.json").status_code == 405


def test_kid_is_the_rfc_7638_thumbprint():
    # The example key and thumbprint of RFC 7638, section 3.1.
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tokens_app.keys import jwk_thumbprint

    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
        "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1"
        "n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    public = rsa.RSAPublicNumbers(65537, int.from_bytes(unb64(n), "big")).public_key()

    assert jwk_thumbprint(public) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_token_under_a_fallback_key_is_accepted_and_refused_once_removed(
    alice, key_pairs, use_keys, algorithm
):
    current, previous, _ = key_pairs[algorithm]
    use_keys(algorithm, previous)
    client = Client()
    sign_in(client)
    old = api_client_of(client)

    use_keys(algorithm, current, fallbacks=[previous.public])
    assert me(old).status_code == 200

    use_keys(algorithm, current)
    response = me(old)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_token_signed_with_an_unpublished_key_pair_is_refused(alice, key_pairs, use_keys):
    current, _, foreign = key_pairs["EdDSA"]
    use_keys("EdDSA", current)
    published_kid = jwks()["keys"][0]["kid"]
    client = Client()
    access, _ = sign_in(client)
    # Same header (even the published kid), same claims, another private key.
    forged = sign(header_of(access), payload_of(access), load_private(foreign.private))
    assert header_of(forged)["kid"] == published_kid
    other = Client()
    other.cookies[ACCESS_COOKIE] = forged

    response = me(other)

    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_switching_the_access_algorithm_signs_nobody_out(alice, key_pairs, use_keys):
    client = Client()
    sign_in(client)  # HS256
    use_keys("EdDSA", key_pairs["EdDSA"][0])

    response = client.get("/")

    assert response.status_code == 200
    assert header_of(response.cookies[ACCESS_COOKIE].value)["alg"] == "EdDSA"


def test_audience_is_issued_and_required_when_configured(alice, key_pairs, use_keys, settings):
    use_keys("EdDSA", key_pairs["EdDSA"][0])
    client = Client()
    without_aud, _ = sign_in(client)
    assert "aud" not in payload_of(without_aud)

    settings.TOKENS_AUDIENCE = "orders-api"
    response = me(api_client_of(client))
    assert response.status_code == 401, "a token without the configured audience is refused"

    client = Client()
    with_aud, _ = sign_in(client)
    assert payload_of(with_aud)["aud"] == "orders-api"
    assert me(api_client_of(client)).status_code == 200

    settings.TOKENS_AUDIENCE = "billing-api"
    assert me(api_client_of(client)).status_code == 401


# generate_secrets --algorithm


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_generate_secrets_writes_a_private_key_only_its_owner_can_read(tmp_path, algorithm, alice, settings):
    out = io.StringIO()
    path = tmp_path / "access.pem"

    call_command(
        "generate_secrets", algorithm=algorithm, key_file=str(path), stdout=out, stderr=io.StringIO()
    )

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    assert {"DJANGO_SECRET_KEY", "ACCESS_TOKEN_SECRET", "REFRESH_TOKEN_SECRET"} <= lines.keys()
    assert lines["ACCESS_TOKEN_ALGORITHM"] == algorithm
    assert lines["ACCESS_TOKEN_PRIVATE_KEY_FILE"] == str(path.resolve())
    assert b"PRIVATE KEY" not in (tmp_path / "access.pem.pub").read_bytes()
    # The printed lines work as they are.
    settings.TOKENS_ACCESS_ALGORITHM = lines["ACCESS_TOKEN_ALGORITHM"]
    settings.TOKENS_ACCESS_PRIVATE_KEY_FILE = lines["ACCESS_TOKEN_PRIVATE_KEY_FILE"]
    client = Client()
    access, _ = sign_in(client)
    assert header_of(access)["alg"] == algorithm
    assert me(api_client_of(client)).status_code == 200


def test_generate_secrets_never_overwrites_a_key_unless_forced(tmp_path):
    path = tmp_path / "access.pem"
    path.write_text("precious")
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}

    with pytest.raises(CommandError, match="exists"):
        call_command("generate_secrets", algorithm="EdDSA", key_file=str(path), **quiet)
    assert path.read_text() == "precious"

    call_command("generate_secrets", algorithm="EdDSA", key_file=str(path), force=True, **quiet)
    assert b"PRIVATE KEY" in path.read_bytes()


def test_generate_secrets_asks_for_a_key_file():
    with pytest.raises(CommandError, match="--key-file"):
        call_command("generate_secrets", algorithm="EdDSA", stdout=io.StringIO())


def test_key_pair_rotation_procedure_in_the_docs_step_by_step(alice, tmp_path, settings, use_keys):
    """docs/key-rotation.md, "Rotating the key pair", steps 1-6."""
    doc = DOC.read_text()
    for step in (
        "1. **Make a new key pair.**",
        "2. **Publish the new public key.**",
        "3. **Wait the JWKS max-age**",
        "4. **Sign with the new key and keep the old public key as a fallback.**",
        "5. **Delete the old private key**",
        "6. **Wait one access token lifetime**",
    ):
        assert step in doc, f"the test follows {step!r}: keep the docs and this test in step"
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    old_key = tmp_path / "access-2026-11.pem"
    call_command("generate_secrets", algorithm="EdDSA", key_file=str(old_key), key_only=True, **quiet)
    use_keys("EdDSA")
    settings.TOKENS_ACCESS_PRIVATE_KEY_FILE = str(old_key)
    before = Client()
    sign_in(before)
    before = api_client_of(before)
    [old_jwk] = jwks()["keys"]

    # 1. Make a new key pair.
    new_key = tmp_path / "access-2026-12.pem"
    call_command("generate_secrets", algorithm="EdDSA", key_file=str(new_key), key_only=True, **quiet)

    # 2. Publish the new public key (restart).
    settings.TOKENS_ACCESS_PUBLIC_KEY_FALLBACK_FILES = [str(tmp_path / "access-2026-12.pem.pub")]
    published = jwks()["keys"]
    assert [key["kid"] for key in published][0] == old_jwk["kid"], "still signing with the old key"
    assert len(published) == 2
    new_kid = published[1]["kid"]
    assert me(before).status_code == 200

    # 3. Wait the JWKS max-age (resource servers: see test_resource_server.py).
    # 4. Sign with the new key and keep the old public key as a fallback (restart).
    settings.TOKENS_ACCESS_PRIVATE_KEY_FILE = str(new_key)
    settings.TOKENS_ACCESS_PUBLIC_KEY_FALLBACK_FILES = [str(tmp_path / "access-2026-11.pem.pub")]
    assert [key["kid"] for key in jwks()["keys"]] == [new_kid, old_jwk["kid"]]
    assert me(before).status_code == 200, "nobody is signed out by the rotation"
    after = Client()
    access, _ = sign_in(after)
    assert kid_of(access) == new_kid
    after = api_client_of(after)
    assert me(after).status_code == 200

    # 5. Delete the old private key: the old tokens still verify from the .pub file.
    old_key.unlink()
    assert token_checks() == [], "no tokens_app warning once only the .pub file is a fallback"
    assert me(before).status_code == 200

    # 6. Wait one access token lifetime, then remove the old public key (restart).
    settings.TOKENS_ACCESS_PUBLIC_KEY_FALLBACK_FILES = []
    assert [key["kid"] for key in jwks()["keys"]] == [new_kid]
    assert me(before).status_code == 401
    assert me(after).status_code == 200


def test_key_files_are_parsed_once_not_per_request(alice, key_pairs, use_keys, monkeypatch):
    from tokens_app import keys

    keys.asymmetric_keyring.cache_clear()
    parsed = []
    real_private, real_public = (
        keys.serialization.load_pem_private_key,
        keys.serialization.load_pem_public_key,
    )

    def counting(real):
        def load(data, *args, **kwargs):
            parsed.append(real.__name__)
            return real(data, *args, **kwargs)

        return load

    monkeypatch.setattr(keys.serialization, "load_pem_private_key", counting(real_private))
    monkeypatch.setattr(keys.serialization, "load_pem_public_key", counting(real_public))
    current, previous, _ = key_pairs["ES256"]
    use_keys("ES256", current, fallbacks=[previous.public])
    client = Client()
    sign_in(client)
    api = api_client_of(client)

    for _ in range(3):
        assert me(api).status_code == 200
    assert jwks()["keys"]

    assert sorted(parsed) == ["load_pem_private_key", "load_pem_public_key"]
