"""Typed errors inside the app; views turn them into a status, a code and a message."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class TokenError(Exception):
    """A token that must not be honoured. ``code`` is safe to show to clients."""

    code = "token_invalid"
    message = _("Invalid token.")


class TokenExpired(TokenError):
    code = "token_expired"
    message = _("The token has expired.")


class TokenRevoked(TokenError):
    """Valid signature, but the user's sessions were ended since it was issued."""

    code = "token_revoked"
    message = _("The session has ended. Please log in again.")


class TokenReused(TokenRevoked):
    """A retired refresh token came back: the whole device session is revoked."""

    code = "token_reused"
    message = _("This session was ended because its refresh token was used twice.")


class UserInactive(TokenError):
    code = "user_inactive"
    message = _("This account is inactive.")


class SessionMaxLifetime(TokenExpired):
    """The device session reached TOKENS_SESSION_MAX_LIFETIME since its sign-in."""

    code = "session_max_lifetime"
    message = _("Your session reached its maximum length. Please sign in again.")


class SessionLimitReached(TokenRevoked):
    """Ended by the per-user session cap: another sign-in needed its place."""

    code = "session_limit"
    message = _(
        "You were signed out on this device because your account signed in on another one "
        "and this was the least recently used of too many. Please sign in again."
    )


class SessionReported(TokenRevoked):
    """Ended from the new-device alert mail ("This wasn't me")."""

    code = "session_reported"
    message = _("This sign-in was reported as not made by the account's owner and has been ended.")


class ReauthenticationRequired(Exception):
    """A sensitive action needs a recent sign-in (TOKENS_REAUTHENTICATION_TIMEOUT)."""

    code = "reauthentication_required"
    message = _("Please confirm your password to continue.")
