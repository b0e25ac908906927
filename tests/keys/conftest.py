from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import login
from tests.forge import ACCESS_COOKIE, REFRESH_COOKIE, header_of

ASYMMETRIC = ("EdDSA", "ES256", "RS256")


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path


def _generate(algorithm: str, path: Path) -> KeyPair:
    # Through the management command an operator runs, not a test-only helper.
    call_command(
        "generate_secrets",
        algorithm=algorithm,
        key_file=str(path),
        key_only=True,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    return KeyPair(private=path, public=path.with_name(path.name + ".pub"))


@pytest.fixture(autouse=True)
def _behind_the_documented_proxy(settings):
    # As docs/production.md deploys the site behind its proxy: with the
    # client-IP header named, so `check --deploy` reports only what concerns
    # keys here (not tokens_app.W010).
    settings.TOKENS_CLIENT_IP_HEADER = "X-Forwarded-For"


@pytest.fixture(scope="session")
def key_pairs(tmp_path_factory) -> dict[str, list[KeyPair]]:
    """Per algorithm: [current, previous, foreign] key pairs (RSA generation is slow: once per run)."""
    folder = tmp_path_factory.mktemp("keys")
    return {
        algorithm: [_generate(algorithm, folder / f"{algorithm}-{name}.pem") for name in ("a", "b", "x")]
        for algorithm in ASYMMETRIC
    }


@pytest.fixture
def use_keys(settings):
    """Configure access-token keys as an operator would through the environment."""

    def configure(algorithm: str, current: KeyPair | None = None, fallbacks=()) -> None:
        settings.TOKENS_ACCESS_ALGORITHM = algorithm
        settings.TOKENS_ACCESS_PRIVATE_KEY_FILE = str(current.private) if current else ""
        settings.TOKENS_ACCESS_PUBLIC_KEY_FALLBACK_FILES = [str(path) for path in fallbacks]

    return configure


def sign_in(client, **extra) -> tuple[str, str]:
    """Sign in through the HTML form; the (access, refresh) cookies the site set."""
    response = login(client, **extra)
    assert response.status_code == 302, response.content
    return client.cookies[ACCESS_COOKIE].value, client.cookies[REFRESH_COOKIE].value


def token_checks() -> list[str]:
    """Ids of the tokens_app system checks that fire, as `manage.py check --deploy` runs them."""
    from django.core.checks import run_checks

    return [
        message.id for message in run_checks(include_deployment_checks=True) if "tokens_app" in message.id
    ]


def kid_of(token: str) -> str:
    return header_of(token)["kid"]
