"""How long a device session lasts: its maximum lifetime and its idle expiry.

Read from the settings each time, so shortening a setting shortens the
sessions already running too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .conf import app_settings
from .exceptions import SessionLimitReached, SessionReported, TokenRevoked
from .models import LoginSession


def max_lifetime(session: LoginSession) -> timedelta:
    """How long ``session`` may last from its sign-in (remembered or not)."""
    if session.persistent:
        return app_settings.SESSION_MAX_LIFETIME
    return app_settings.BROWSER_SESSION_MAX_LIFETIME


def session_deadline(session: LoginSession) -> datetime:
    """The moment ``session`` ends however active it is: its maximum lifetime."""
    return session.created_at + max_lifetime(session)


def capped_expiry(session: LoginSession, now: datetime) -> datetime:
    """The idle timeout (REFRESH_LIFETIME from ``now``), never past the deadline."""
    return min(now + app_settings.REFRESH_LIFETIME, session_deadline(session))


def ended_error(session: LoginSession) -> TokenRevoked:
    """The error that tells a device why its session was ended."""
    errors: dict[str, type[TokenRevoked]] = {
        "session_limit": SessionLimitReached,
        "reported": SessionReported,
    }
    return errors.get(session.revoked_reason, TokenRevoked)()
