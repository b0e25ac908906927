"""examples/node_express (Express + jsonwebtoken) beside the running site.

It verifies our access tokens (the shared HS256 secret, or ES256 through the
JWKS) and refuses revoked ones from the signed feed, within its poll interval.
Needs Node 20 (the machines have it); its npm packages are installed here
(`npm ci`) when node_modules is missing. Without Node the tests are skipped,
unless TOKENS_REQUIRE_NODE_TESTS=1 (CI), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.live_servers import free_port, spawn
from tokens_app import flows

from .test_resource_server import ROOT, call, http, sign_in_over_http

EXAMPLE = ROOT / "examples" / "node_express"
CREDENTIAL = "feed-credential-for-tests-0123456789abcdef"
POLL_INTERVAL = 0.5
SITE_PORTS = range(18770, 18790)
NODE_PORTS = range(18790, 18810)


@pytest.fixture(scope="session")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        if os.environ.get("TOKENS_REQUIRE_NODE_TESTS") == "1":
            pytest.fail("TOKENS_REQUIRE_NODE_TESTS=1 but node is not on PATH")
        pytest.skip("node is not installed (Node 20 runs examples/node_express)")
    if not (EXAMPLE / "node_modules").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=EXAMPLE,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return found


@pytest.fixture
def site(transactional_db, settings):
    from pytest_django.live_server_helper import LiveServer

    settings.TOKENS_REVOCATION_FEED_CREDENTIALS = [CREDENTIAL]
    server = LiveServer(f"127.0.0.1:{free_port(ports=SITE_PORTS)}")
    yield server.url
    server.stop()


@pytest.fixture
def start_node(node, site, settings, tmp_path):
    servers = []

    def start(**env: str) -> str:
        port = free_port(ports=NODE_PORTS)
        server = spawn(
            [node, str(EXAMPLE / "server.js")],
            port=port,
            env={
                "PATH": os.environ.get("PATH", ""),
                "PORT": str(port),
                "TOKEN_ISSUER": settings.TOKENS_ISSUER,
                "REVOCATION_FEED_URL": f"{site}/revocations/",
                "REVOCATION_FEED_CREDENTIAL": CREDENTIAL,
                "REVOCATION_FEED_POLL_INTERVAL_MS": str(int(POLL_INTERVAL * 1000)),
                **env,
            },
            log=tmp_path / f"node-{port}.log",
            timeout=20,
        )
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


def refused_after(resource: str, token: str, *, limit: float) -> float:
    started = time.perf_counter()
    while call(resource, token)[0] == 200:
        assert time.perf_counter() - started < limit, "still accepted"
        time.sleep(0.01)
    return time.perf_counter() - started


def test_a_force_logout_is_refused_by_the_express_server_within_the_poll_interval(
    alice, settings, site, start_node
):
    resource = start_node(ACCESS_TOKEN_SECRET=settings.TOKENS_ACCESS_SECRET)
    token = sign_in_over_http(site)
    status, body = call(resource, token)
    assert (status, body["username"]) == (200, "alice")

    flows.force_logout([alice])
    delay = refused_after(resource, token, limit=POLL_INTERVAL * 2)

    print(f"\nnode feed: force logout refused after {delay * 1000:.0f} ms (poll interval {POLL_INTERVAL} s)")
    assert delay <= POLL_INTERVAL + 0.2
    status, headers, _ = http("GET", f"{resource}/orders", headers={"Authorization": f"Bearer {token}"})
    assert headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_an_ended_device_is_refused_and_the_others_are_not(alice, settings, site, start_node):
    resource = start_node(ACCESS_TOKEN_SECRET=settings.TOKENS_ACCESS_SECRET)
    ended, kept = sign_in_over_http(site), sign_in_over_http(site)
    session = alice.login_sessions.order_by("created_at").first()

    flows.revocation.revoke_session(session, reason="logout_device")
    refused_after(resource, ended, limit=POLL_INTERVAL * 2)

    assert call(resource, kept)[0] == 200


@pytest.mark.parametrize(
    "token",
    ["", "not-a-token", "eyJhbGciOiJub25lIn0.eyJ0eXAiOiJhY2Nlc3MifQ.", "x" * 5000],
)
def test_bad_tokens_get_401(alice, settings, site, start_node, token):
    resource = start_node(ACCESS_TOKEN_SECRET=settings.TOKENS_ACCESS_SECRET)

    assert call(resource, token)[0] == 401


def test_a_token_signed_with_another_secret_is_refused(alice, settings, site, start_node):
    resource = start_node(ACCESS_TOKEN_SECRET="another-secret-" + "y" * 40)

    assert call(resource, sign_in_over_http(site))[0] == 401


def test_without_the_feed_the_express_server_answers_503(alice, settings, site, start_node):
    resource = start_node(
        ACCESS_TOKEN_SECRET=settings.TOKENS_ACCESS_SECRET, REVOCATION_FEED_CREDENTIAL="wrong"
    )

    status, body = call(resource, sign_in_over_http(site))

    assert (status, body["code"]) == (503, "keys_unavailable")


def test_es256_tokens_verify_through_the_jwks(alice, key_pairs, use_keys, site, start_node):
    use_keys("ES256", key_pairs["ES256"][0])
    resource = start_node(JWKS_URL=f"{site}/.well-known/jwks.json")
    token = sign_in_over_http(site)
    assert call(resource, token)[0] == 200

    flows.force_logout([alice])

    refused_after(resource, token, limit=POLL_INTERVAL * 2)
