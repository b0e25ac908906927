"""Browser side: ``request.user`` from the access cookie, with silent refresh.

Resolution is lazy, like Django's own AuthenticationMiddleware: nothing is
verified until a view, a template or a permission check asks for the user.

- A valid access token gives a ``TokenUser``: no database query.
- No access token, or an expired one, with a refresh cookie: the refresh is
  rotated (``flows.refresh``) and the new cookies go out on this response, so
  a form posted after the access token expired still arrives.
- Anything invalid, revoked or stale clears both cookies and leaves the user
  anonymous; ``login_required`` then redirects to the login page, where a
  message says why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

from . import flows, revocation, throttling
from .conf import app_settings
from .cookies import clear_auth_cookies, set_auth_cookies
from .exceptions import TokenError, TokenExpired, TokenReused, TokenRevoked
from .tokens import Claims
from .users import TokenUser

logger = logging.getLogger(__name__)

# In a Django session: the device session whose first tokens the next request
# collects (deliver_tokens).
HANDOFF_SESSION_KEY = "_tokens_login_handoff"


@dataclass
class _State:
    """What resolving the user did, for process_response to act on."""

    touched: bool = False
    pair: flows.TokenPair | None = None
    clear: bool = False


def _say_why(request: HttpRequest, error: TokenError) -> None:
    if isinstance(error, TokenReused):
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


def resolve_user(request: HttpRequest):
    state: _State = request._tokens_state
    state.touched = True

    def revoked(error: TokenError) -> None:
        state.clear = True
        _say_why(request, error)

    access = request.COOKIES.get(app_settings.ACCESS_COOKIE)
    refresh = request.COOKIES.get(app_settings.REFRESH_COOKIE)
    if access:
        try:
            claims = revocation.verify_current_access(access)
        except TokenRevoked as error:
            revoked(error)
            return AnonymousUser()
        except TokenError:
            pass  # expired or bad: a valid refresh cookie may still carry the user
        else:
            request.token_claims = claims
            return TokenUser(claims, on_revoked=revoked)
    if not access and not refresh and HANDOFF_SESSION_KEY in getattr(request, "session", ()):
        return _redeem_login_handoff(request, state, revoked)
    if not refresh:
        state.clear = bool(access)
        return AnonymousUser()
    try:
        throttling.check_refresh(request)
    except throttling.RateLimited:
        # Not tried, so not known to be bad: anonymous, cookies kept.
        return AnonymousUser()
    try:
        pair = flows.refresh(refresh, request=request)
    except TokenError as error:
        logger.info("silent refresh refused code=%s", error.code)
        if not isinstance(error, TokenExpired):
            throttling.refresh_failed(request)
        revoked(error)
        return AnonymousUser()
    state.pair = pair
    request.token_claims = pair.access.claims
    user = TokenUser(pair.access.claims, on_revoked=revoked)
    user._wrapped = pair.user  # just checked by the refresh: no second query
    return user


def _redeem_login_handoff(request: HttpRequest, state: _State, revoked):
    """The first tokens of a login made where no response could carry them
    (see ``deliver_tokens``); the handoff is popped, and works once."""
    try:
        pair = flows.redeem_login_handoff(request.session.pop(HANDOFF_SESSION_KEY), request=request)
    except TokenError as error:
        logger.info("login handoff refused code=%s", error.code)
        return AnonymousUser()
    state.pair = pair
    request.token_claims = pair.access.claims
    user = TokenUser(pair.access.claims, on_revoked=revoked)
    user._wrapped = pair.user
    return user


def deliver_tokens(request: HttpRequest, pair: flows.TokenPair) -> None:
    """Send ``pair``'s cookies with this request's response: a login made by
    ``django.contrib.auth.login()`` (receivers.py).

    A request that never went through this middleware (the test client's
    ``login()`` / ``force_login()`` build one) has no response; with Django
    sessions on, a one-time handoff naming the device session is left in the
    session, and the client's next request gets the cookies.
    """
    state: _State | None = getattr(request, "_tokens_state", None)
    if state is not None:
        state.touched, state.pair, state.clear = True, pair, False
        request.token_claims = pair.access.claims
    elif hasattr(request, "session"):
        request.session[HANDOFF_SESSION_KEY] = pair.access.claims.sid


def forget_tokens(request: HttpRequest) -> None:
    """``django.contrib.auth.logout()`` ran: end this device's session and
    clear the auth cookies on this response."""
    flows.log_out(request)
    state: _State | None = getattr(request, "_tokens_state", None)
    if state is not None:
        state.touched, state.pair, state.clear = True, None, True
        request.token_claims = None


def _resolved_user(request: HttpRequest):
    _ = request.user.is_authenticated  # resolves once; the lazy object keeps it
    return request.user


class TokenAuthenticationMiddleware(AuthenticationMiddleware):
    """Replaces Django's AuthenticationMiddleware: the tokens decide who is
    signed in, whether or not Django's SessionMiddleware is installed too.

    A subclass of it, so the admin's system check accepts it.
    """

    def process_request(self, request: HttpRequest) -> None:
        request._tokens_state = _State()
        request.token_claims: Claims | None = None
        request.user = SimpleLazyObject(partial(resolve_user, request))
        request.auser = partial(sync_to_async(_resolved_user), request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        state: _State | None = getattr(request, "_tokens_state", None)
        if state is None or not state.touched:
            return response
        patch_vary_headers(response, ("Cookie",))
        if app_settings.ACCESS_COOKIE in response.cookies:
            return response  # the view logged in or out and set its own cookies
        if state.pair is not None:
            # The rotation is committed: the browser must get the new tokens
            # even on an error page, or its next request presents a retired one.
            set_auth_cookies(response, state.pair)
        elif state.clear and response.status_code < 500:
            clear_auth_cookies(response)
        return response
