"""System checks on signing keys: what `manage.py check` says about them."""

from __future__ import annotations

import io

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from .conftest import token_checks

SHORT = "only-twenty-bytes-xx"
GOOD = "a-perfectly-long-secret-for-the-checks-0123456789"


def messages(check_id: str) -> list[str]:
    return [m.msg for m in run_checks(include_deployment_checks=True) if m.id == f"tokens_app.{check_id}"]


def test_good_keys_raise_no_key_check():
    assert not {"tokens_app.W001", "tokens_app.E004", "tokens_app.E006"} & set(token_checks())


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        ("TOKENS_ACCESS_SECRET", "access"),
        ("TOKENS_REFRESH_SECRET", "refresh"),
        ("TOKENS_ACCESS_SECRET_FALLBACKS", "access fallback #2"),
        ("TOKENS_REFRESH_SECRET_FALLBACKS", "refresh fallback #2"),
    ],
)
def test_a_key_shorter_than_32_bytes_is_warned_about(settings, setting, name):
    value = [GOOD, SHORT] if setting.endswith("FALLBACKS") else SHORT
    setattr(settings, setting, value)

    assert messages("W001") == [f"The {name} key is shorter than 32 bytes."]


def test_an_access_fallback_equal_to_the_refresh_secret_is_an_error(settings):
    settings.TOKENS_ACCESS_SECRET_FALLBACKS = [settings.TOKENS_REFRESH_SECRET]

    [text] = messages("E004")
    assert "access fallback #1 = refresh" in text
    with pytest.raises(SystemCheckError, match="tokens_app.E004"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


def test_an_access_secret_equal_to_a_refresh_fallback_is_an_error(settings):
    settings.TOKENS_REFRESH_SECRET_FALLBACKS = [GOOD, settings.TOKENS_ACCESS_SECRET]

    [text] = messages("E004")
    assert "access = refresh fallback #2" in text


def test_the_unused_access_secret_is_not_checked_under_a_key_pair(settings, key_pairs, use_keys):
    use_keys("EdDSA", key_pairs["EdDSA"][0])
    settings.TOKENS_ACCESS_SECRET = settings.TOKENS_REFRESH_SECRET

    assert token_checks() == []


def test_a_missing_private_key_file_setting_is_an_error(use_keys):
    use_keys("EdDSA")

    [text] = messages("E006")
    assert "ACCESS_TOKEN_PRIVATE_KEY_FILE" in text


def test_an_unreadable_key_file_is_an_error(settings, tmp_path):
    settings.TOKENS_ACCESS_ALGORITHM = "ES256"
    settings.TOKENS_ACCESS_PRIVATE_KEY_FILE = str(tmp_path / "missing.pem")

    [text] = messages("E006")
    assert "missing.pem" in text
    with pytest.raises(SystemCheckError, match="tokens_app.E006"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


def test_a_key_of_the_wrong_type_for_the_algorithm_is_an_error(key_pairs, use_keys):
    use_keys("EdDSA", key_pairs["ES256"][0])

    [text] = messages("E006")
    assert "needs an Ed25519 key" in text


def test_a_fallback_of_the_wrong_type_is_an_error(key_pairs, use_keys):
    use_keys("EdDSA", key_pairs["EdDSA"][0], fallbacks=[key_pairs["RS256"][1].public])

    [text] = messages("E006")
    assert "ACCESS_TOKEN_PUBLIC_KEY_FALLBACK_FILES" in text


def test_an_unsupported_algorithm_is_an_error(settings):
    settings.TOKENS_ACCESS_ALGORITHM = "none"

    [text] = messages("E006")
    assert "'none' is not supported" in text


def test_a_short_rsa_key_is_warned_about(settings, tmp_path):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weak key under test
    path = tmp_path / "weak.pem"
    path.write_bytes(
        weak.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    settings.TOKENS_ACCESS_ALGORITHM = "RS256"
    settings.TOKENS_ACCESS_PRIVATE_KEY_FILE = str(path)

    assert messages("W006") == ["The RSA access key has 1024 bits."]


def test_a_private_key_kept_as_fallback_is_warned_about(key_pairs, use_keys):
    current, previous, _ = key_pairs["EdDSA"]
    use_keys("EdDSA", current, fallbacks=[previous.private])

    assert messages("W007") == [f"The access key fallback file {previous.private} holds a private key."]
