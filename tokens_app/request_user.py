"""Who ``request.user`` is, from the auth cookies: the middleware's resolution.

Resolution is lazy, like Django's own AuthenticationMiddleware: nothing is
verified until a view, a template or a permission check asks for the user
(``request.user``), or an async view awaits ``request.auser()``. Either way it
happens once per request (a silent refresh must not rotate twice).

- A valid access token gives a ``TokenUser``: no database query. In an async
  view that path runs on the event loop, with no thread hop: verifying needs
  no I/O, and the revocation check is ``revocation_check.aensure_not_revoked``.
- No access token, or an expired one, with a refresh cookie: the refresh is
  rotated (``flows.refresh_request``) and the new cookies go out on this
  response, so a form posted after the access token expired still arrives.
  (Async views reach this rare path through ``sync_to_async``.)
- Anything invalid, revoked or stale clears both cookies and leaves the user
  anonymous; ``login_required`` then redirects to the login page, where a
  message says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from . import flows, revocation_check, throttling
from .conf import app_settings
from .exceptions import (
    SessionLimitReached,
    SessionMaxLifetime,
    SessionReported,
    TokenError,
    TokenExpired,
    TokenReused,
    TokenRevoked,
)
from .request_attrs import set_token_claims
from .tokens import Claims, verify_access
from .users import TokenUser

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)

# In a Django session: the device session whose first tokens the next request
# collects (deliver_tokens).
HANDOFF_SESSION_KEY = "_tokens_login_handoff"


@dataclass
class State:
    """What resolving the user did, for process_response to act on."""

    touched: bool = False
    pair: flows.TokenPair | None = None
    clear: bool = False
    # Auth cookies to clear on any answer: malformed (tokens.is_malformed).
    discard: tuple[str, ...] = ()
    # An auth cookie sent twice (a same-named one planted for a parent domain).
    conflicting: bool = False
    # The answer was made from the auth cookies (a page's request.user, or
    # the API's authentication): it is that user's alone.
    read_cookies: bool = False
    # The resolved user, shared by request.user and request.auser().
    user: TokenUser | AnonymousUser | None = None


_STATE_ATTRIBUTE = "_tokens_state"


def attach_state(request: HttpRequest, state: State) -> None:
    """Start ``request``'s bookkeeping (the middleware's process_request)."""
    setattr(request, _STATE_ATTRIBUTE, state)


def state_of(request: HttpRequest) -> State | None:
    """``request``'s bookkeeping; None if the middleware did not see it."""
    state: State | None = getattr(request, _STATE_ATTRIBUTE, None)
    return state


def current_state(request: HttpRequest) -> State:
    """``request``'s bookkeeping, where the middleware has run (an
    AttributeError elsewhere, as reading the attribute itself would be)."""
    state: State = getattr(request, _STATE_ATTRIBUTE)
    return state


def note_cookies_read(request: HttpRequest) -> None:
    """Mark the answer to ``request`` as made from its auth cookies, so it
    goes out ``private, no-store`` (the DRF authentication calls this)."""
    state = state_of(request)
    if state is not None:
        state.read_cookies = True


def user_of(request: HttpRequest) -> TokenUser | AnonymousUser:
    """``request.user``: resolved on first use, then kept."""
    state = current_state(request)
    if state.user is None:
        state.user = resolve_user(request)
    return state.user


async def auser_of(request: HttpRequest) -> TokenUser | AnonymousUser:
    """``await request.auser()``: the same user, resolved natively when the
    access token answers (the steady state)."""
    state = current_state(request)
    if state.user is None:
        state.user = await _aresolve_user(request)
    return state.user


def _say_why(request: HttpRequest, error: TokenError) -> None:
    text: StrOrPromise
    if isinstance(error, SessionMaxLifetime | SessionLimitReached | SessionReported):
        # A session policy ended it: its own message says which.
        text = error.message
    elif isinstance(error, TokenReused):
        text = _(
            "You were signed out because your session was used from somewhere else. Please sign in again."
        )
    elif isinstance(error, TokenRevoked):
        text = _(
            "Your session has ended (a password change, an administrator or “log out everywhere”). "
            "Please sign in again."
        )
    elif isinstance(error, TokenExpired):
        text = _("Your session has expired. Please sign in again.")
    else:
        return
    messages.warning(request, text, fail_silently=True)


_CONFLICTING_COOKIES = _lazy(
    "Your browser sent two sign-in cookies for this site; one may have been set by another site "
    "under the same domain. You have been signed out. If this persists, clear this site's cookies."
)


def _revoker(request: HttpRequest, state: State) -> Callable[[TokenError], None]:
    def revoked(error: TokenError) -> None:
        state.clear = True
        _say_why(request, error)

    return revoked


def _signed_in(
    request: HttpRequest, state: State, claims: Claims, user: AbstractBaseUser | None = None
) -> TokenUser:
    set_token_claims(request, claims)
    return TokenUser(claims, on_revoked=_revoker(request, state), user=user)


def _from_pair(request: HttpRequest, state: State, pair: flows.TokenPair) -> TokenUser:
    state.pair = pair
    # The refresh just checked the user's row: no second query.
    return _signed_in(request, state, pair.access.claims, user=pair.user)


def resolve_user(request: HttpRequest) -> TokenUser | AnonymousUser:
    state = current_state(request)
    state.touched = True
    if state.conflicting:
        messages.warning(request, _CONFLICTING_COOKIES, fail_silently=True)
        return AnonymousUser()
    access = request.COOKIES.get(app_settings.ACCESS_COOKIE)
    refresh = request.COOKIES.get(app_settings.REFRESH_COOKIE)
    state.read_cookies = bool(access or refresh)
    if access:
        try:
            claims = revocation_check.verify_current_access(access)
        except TokenRevoked as error:
            if not refresh:
                _revoker(request, state)(error)
                return AnonymousUser()
            # The refresh below is refused too, and knows why the session
            # ended (a session cap, a "This wasn't me" report...).
        except TokenError:
            pass  # expired or bad: a valid refresh cookie may still carry the user
        else:
            return _signed_in(request, state, claims)
    if not access and not refresh and HANDOFF_SESSION_KEY in getattr(request, "session", ()):
        return _redeem_login_handoff(request, state)
    if not refresh:
        state.clear = bool(access)
        return AnonymousUser()
    try:
        pair = flows.refresh_request(request)
    except throttling.RateLimited:
        # Not tried, so not known to be bad: anonymous, cookies kept.
        return AnonymousUser()
    except TokenError as error:
        logger.info("silent refresh refused code=%s", error.code)
        _revoker(request, state)(error)
        return AnonymousUser()
    return _from_pair(request, state, pair)


async def _aresolve_user(request: HttpRequest) -> TokenUser | AnonymousUser:
    state = current_state(request)
    access = request.COOKIES.get(app_settings.ACCESS_COOKIE)
    if access and not state.conflicting:
        claims = await _honoured_access(access)
        if claims is not None:
            state.touched = state.read_cookies = True
            return _signed_in(request, state, claims)
    if (
        not access
        and not request.COOKIES.get(app_settings.REFRESH_COOKIE)
        and not hasattr(request, "session")
    ):
        # Anonymous, with no Django session that could hold a login handoff
        # (reading one may need the database).
        state.touched = True
        return AnonymousUser()
    # A refresh, a handoff, a refusal to explain: the database and the
    # messages, on the sync path (rare: once per ACCESS_LIFETIME per device).
    return await sync_to_async(resolve_user)(request)


async def averify_current_access(raw: str | None) -> Claims:
    """``revocation_check.verify_current_access`` for async code (the same errors):
    verifying needs no I/O, and the revocation check is awaited."""
    claims = verify_access(raw)
    if app_settings.IMMEDIATE_REVOCATION:
        await revocation_check.aensure_not_revoked(claims)
    return claims


async def _honoured_access(raw: str) -> Claims | None:
    try:
        return await averify_current_access(raw)
    except TokenError:
        return None


def _redeem_login_handoff(request: HttpRequest, state: State) -> TokenUser | AnonymousUser:
    """The first tokens of a login made where no response could carry them
    (see ``deliver_tokens``); the handoff is popped, and works once."""
    try:
        pair = flows.redeem_login_handoff(request.session.pop(HANDOFF_SESSION_KEY), request=request)
    except TokenError as error:
        logger.info("login handoff refused code=%s", error.code)
        return AnonymousUser()
    return _from_pair(request, state, pair)


def deliver_tokens(request: HttpRequest, pair: flows.TokenPair) -> None:
    """Send ``pair``'s cookies with this request's response: a login made by
    ``django.contrib.auth.login()`` (receivers.py).

    A request that never went through this middleware (the test client's
    ``login()`` / ``force_login()`` build one) has no response; with Django
    sessions on, a one-time handoff naming the device session is left in the
    session, and the client's next request gets the cookies.
    """
    state = state_of(request)
    if state is not None:
        state.touched, state.pair, state.clear = True, pair, False
        set_token_claims(request, pair.access.claims)
    elif hasattr(request, "session"):
        request.session[HANDOFF_SESSION_KEY] = pair.access.claims.sid


def forget_tokens(request: HttpRequest) -> None:
    """``django.contrib.auth.logout()`` ran: end this device's session and
    clear the auth cookies on this response."""
    flows.log_out(request)
    state = state_of(request)
    if state is not None:
        state.touched, state.pair, state.clear = True, None, True
        set_token_claims(request, None)
