"""When this browser's session ends, for the page's warning (session.js).

Read from the refresh token this request carried (or the one a silent
refresh just issued): its signature is checked, no database is asked. The
refresh token's ``exp`` is the idle limit (a refresh pushes it back) unless
it was cut to ``sxp``, the session's maximum lifetime, which nothing extends.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from . import clock
from .conf import app_settings
from .exceptions import TokenError
from .request_user import state_of
from .tokens import Claims, verify_refresh


@dataclass(frozen=True)
class Deadline:
    ends: int  # Unix time the session ends unless extended
    extendable: bool  # an idle limit (a refresh moves it), not the maximum lifetime
    now: int  # the server's time, so the page can allow for a wrong clock
    warn: int  # seconds before ``ends`` the page warns


def _refresh_claims(request: HttpRequest) -> Claims | None:
    state = state_of(request)
    pair = state.pair if state is not None else None
    if pair is not None:
        return pair.refresh.claims
    try:
        return verify_refresh(request.COOKIES.get(app_settings.REFRESH_COOKIE))
    except TokenError:
        return None


def of(request: HttpRequest) -> Deadline | None:
    """The deadline of the signed-in session of ``request``; None if unknown
    (signed out, or no refresh cookie on this path: TOKENS_REFRESH_COOKIE_PATH)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    claims = _refresh_claims(request)
    if claims is None:
        return None
    extendable = claims.session_end is None or claims.exp < claims.session_end
    return Deadline(
        ends=claims.exp,
        extendable=extendable,
        now=int(clock.now().timestamp()),
        warn=int(app_settings.SESSION_WARNING.total_seconds()),
    )
