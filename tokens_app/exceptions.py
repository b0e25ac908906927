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
