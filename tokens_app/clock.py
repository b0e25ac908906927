"""The app's one clock, so tests can move time through HTTP requests.

Django's PasswordResetTokenGenerator has ``_now()`` for the same reason. Code
that decides with the time (token expiry, a session's maximum lifetime, the
re-authentication window) calls ``clock.now()``; a test replaces it with
``monkeypatch.setattr("tokens_app.clock.now", ...)`` instead of sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)
