"""Helpers shared by the client-surface tests (native apps, ninja, async)."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def committed(django_capture_on_commit_callbacks) -> Callable[[Callable[[], object]], None]:
    """Run a revocation as if its transaction committed: the test's own
    wrapping transaction never does, and the cache write-through is an
    on-commit hook."""

    def run(revoke: Callable[[], object]) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            revoke()

    return run


def assert_error(response, status: int, code: str) -> None:
    """A JSON refusal with a stable code and a message."""
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert response.json()["detail"]
