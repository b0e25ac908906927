"""tokens_app.verifier, the verifier other Python services use without Django.

Tokens come from the site's own issuing code; the revocation state is what
the site's Redis would hold (a stand-in client answering MGET, read without
tracking: one MGET per check), so these run on every leg. With tracking, on a
real Redis: tests/test_verifier_tracking.py. Against the site's Redis and
feed: tests/keys/test_resource_server_revocation.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests import forge
from tests.live_servers import ROOT
from tokens_app.keys import hmac_key_id
from tokens_app.tokens import issue_access
from tokens_app.verifier import AccessVerifier, RedisRevocations, Unauthorized, Unavailable


class StandInRedis:
    """Answers MGET from a dict, as redis-py does (bytes, None for a miss)."""

    def __init__(self, entries: dict[str, bytes] | None = None, *, down: bool = False) -> None:
        self.entries, self.down, self.asked = entries or {}, down, []

    def mget(self, keys: list[str]) -> list[bytes | None]:
        self.asked.append(keys)
        if self.down:
            raise ConnectionError("redis is down")
        return [self.entries.get(key) for key in keys]


@pytest.fixture
def token(alice) -> tuple[str, dict]:
    issued = issue_access(alice, session_id="7f1e2d3c-4b5a-4968-8776-655443322110")
    return issued.token, {"sub": issued.claims.sub, "sid": issued.claims.sid, "ver": issued.claims.ver}


def verifier(settings, redis: StandInRedis | None = None) -> AccessVerifier:
    revocations = None if redis is None else RedisRevocations(redis, key_prefix="site", tracking=False)
    return AccessVerifier(
        issuer=settings.TOKENS_ISSUER, secret=settings.TOKENS_ACCESS_SECRET, revocations=revocations
    )


def test_the_verifier_imports_neither_django_nor_redis():
    code = (
        "import sys, tokens_app.verifier\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('django', 'redis')]\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_a_valid_token_is_accepted_and_one_mget_reads_the_sites_keys(settings, token):
    raw, claims = token
    redis = StandInRedis()

    assert verifier(settings, redis).verify(raw)["sub"] == claims["sub"]
    assert redis.asked == [[f"site:1:tokens:ver:{claims['sub']}", f"site:1:tokens:sid:{claims['sid']}"]]


@pytest.mark.parametrize(
    ("version", "session", "refused"),
    [
        (None, None, False),  # nothing written: no revocation seen
        (0, None, False),  # the token's own version
        (1, None, True),  # bumped since the token was issued
        (-1, None, True),  # the site's entry for an inactive or deleted user
        (None, 0, False),  # the device is live
        (None, 1, True),  # the device session ended
    ],
)
def test_the_sites_redis_entries_decide(settings, token, version, session, refused):
    raw, claims = token
    entries = {}
    if version is not None:
        entries[f"site:1:tokens:ver:{claims['sub']}"] = str(version).encode()
    if session is not None:
        entries[f"site:1:tokens:sid:{claims['sid']}"] = str(session).encode()
    check = verifier(settings, StandInRedis(entries))

    if refused:
        with pytest.raises(Unauthorized):
            check.verify(raw)
    else:
        check.verify(raw)


def test_a_redis_outage_is_unavailable_not_accepted(settings, token):
    with pytest.raises(Unavailable):
        verifier(settings, StandInRedis(down=True)).verify(token[0])


def test_refresh_tokens_and_foreign_signatures_are_refused(settings, alice, token):
    from tokens_app.tokens import issue_refresh

    refresh = issue_refresh(alice, session_id=token[1]["sid"]).token
    stranger = AccessVerifier(issuer=settings.TOKENS_ISSUER, secret="another-" + "z" * 48)

    with pytest.raises(Unauthorized):
        verifier(settings).verify(refresh)
    with pytest.raises(Unauthorized):
        stranger.verify(token[0])


def test_tracking_needs_a_redis_py_client():
    with pytest.raises(ValueError, match="tracking=False"):
        RedisRevocations(StandInRedis())


def test_exactly_one_kind_of_key_is_configured(settings):
    with pytest.raises(ValueError, match="exactly one"):
        AccessVerifier(issuer="x")
    with pytest.raises(ValueError, match="exactly one"):
        AccessVerifier(issuer="x", secret="s", jwks_url="https://example.com/jwks")


NEXT_SECRET = "the-next-access-secret-of-the-site-0123456789"


def test_during_a_secret_rotation_tokens_signed_with_the_previous_secret_still_verify(settings, alice):
    # docs/key-rotation.md: the site signs with the new secret and keeps the
    # old one as a fallback; a service is given both, the same way.
    previous = settings.TOKENS_ACCESS_SECRET
    before_the_switch = issue_access(alice, session_id="7f1e2d3c-4b5a-4968-8776-655443322110").token
    settings.TOKENS_ACCESS_SECRET, settings.TOKENS_ACCESS_SECRET_FALLBACKS = NEXT_SECRET, [previous]
    after_the_switch = issue_access(alice, session_id="7f1e2d3c-4b5a-4968-8776-655443322110").token
    service = AccessVerifier(issuer=settings.TOKENS_ISSUER, secret=NEXT_SECRET, secret_fallbacks=[previous])

    assert service.verify(before_the_switch)["sub"] == str(alice.pk)
    assert service.verify(after_the_switch)["sub"] == str(alice.pk)


def test_once_the_previous_secret_is_dropped_its_tokens_are_refused(settings, alice):
    previous = settings.TOKENS_ACCESS_SECRET
    old = issue_access(alice, session_id="7f1e2d3c-4b5a-4968-8776-655443322110").token
    service = AccessVerifier(issuer=settings.TOKENS_ISSUER, secret=NEXT_SECRET)

    with pytest.raises(Unauthorized, match="kid names no secret"):
        service.verify(old)
    # Naming the kid of a secret of ours proves nothing without it.
    forged = forge.token(forge.claims(alice), secret=previous, kid=hmac_key_id(NEXT_SECRET))
    with pytest.raises(Unauthorized, match="InvalidSignature"):
        service.verify(forged)


def test_fallback_secrets_go_with_a_current_secret_only(settings):
    with pytest.raises(ValueError, match="secret_fallbacks"):
        AccessVerifier(issuer="x", jwks_url="https://auth.example.com/jwks.json", secret_fallbacks=["old"])
