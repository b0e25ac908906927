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
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from . import flows, kept, revocation, throttling
from .conf import app_settings
from .cookies import clear_auth_cookie, clear_auth_cookies, set_auth_cookies
from .exceptions import (
    SessionLimitReached,
    SessionMaxLifetime,
    SessionReported,
    TokenError,
    TokenExpired,
    TokenReused,
    TokenRevoked,
)
from .tokens import Claims, is_malformed
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
    # Auth cookies to clear on any answer: malformed (tokens.is_malformed).
    discard: tuple[str, ...] = ()
    # An auth cookie sent twice (a same-named one planted for a parent domain).
    conflicting: bool = False
    # The answer was made from the auth cookies (a page's request.user, or
    # the API's authentication): it is that user's alone.
    read_cookies: bool = False


def note_cookies_read(request: HttpRequest) -> None:
    """Mark the answer to ``request`` as made from its auth cookies, so it
    goes out ``private, no-store`` (the DRF authentication calls this)."""
    state: _State | None = getattr(request, "_tokens_state", None)
    if state is not None:
        state.read_cookies = True


def _sets_auth_cookies(response: HttpResponse) -> bool:
    return app_settings.ACCESS_COOKIE in response.cookies or app_settings.REFRESH_COOKIE in response.cookies


def _keep_private(response: HttpResponse) -> None:
    # One user's page, or a Set-Cookie carrying their tokens: no shared cache
    # may keep it, nor the browser's history once they signed out.
    patch_vary_headers(response, ("Cookie",))
    patch_cache_control(response, private=True, no_store=True)


def _say_why(request: HttpRequest, error: TokenError) -> None:
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


def resolve_user(request: HttpRequest):
    state: _State = request._tokens_state
    state.touched = True

    def revoked(error: TokenError) -> None:
        state.clear = True
        _say_why(request, error)

    if state.conflicting:
        messages.warning(request, _CONFLICTING_COOKIES, fail_silently=True)
        return AnonymousUser()
    access = request.COOKIES.get(app_settings.ACCESS_COOKIE)
    refresh = request.COOKIES.get(app_settings.REFRESH_COOKIE)
    state.read_cookies = bool(access or refresh)
    if access:
        try:
            claims = revocation.verify_current_access(access)
        except TokenRevoked as error:
            if not refresh:
                revoked(error)
                return AnonymousUser()
            # The refresh below is refused too, and knows why the session
            # ended (a session cap, a "This wasn't me" report...).
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
        pair = flows.refresh_request(request)
    except throttling.RateLimited:
        # Not tried, so not known to be bad: anonymous, cookies kept.
        return AnonymousUser()
    except TokenError as error:
        logger.info("silent refresh refused code=%s", error.code)
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
        duplicated = _duplicated_cookies(request)
        if duplicated:
            # Two cookies of one name: one was planted by a sibling subdomain
            # for the parent domain, and which is ours cannot be told (both
            # may be validly signed; Django keeps the last). Signed out,
            # rather than silently working inside someone else's account.
            logger.warning("duplicate auth cookies %s: treated as signed out", ",".join(duplicated))
            for name in (app_settings.ACCESS_COOKIE, app_settings.REFRESH_COOKIE):
                request.COOKIES.pop(name, None)
            request._tokens_state = _State(conflicting=True)
        else:
            request._tokens_state = _State(discard=_malformed_cookies(request))
        request.token_claims: Claims | None = None
        request.user = SimpleLazyObject(partial(resolve_user, request))
        request.auser = partial(sync_to_async(_resolved_user), request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        state: _State | None = getattr(request, "_tokens_state", None)
        if state is None:
            return response
        if state.conflicting:
            _keep_conflicting_cookies(response)
            return response
        if state.touched:
            _update_cookies(response, state)
            if request.method == "POST":
                kept.capture(request, response)  # a form turned away to sign in (kept.py)
        if state.discard:
            patch_vary_headers(response, ("Cookie",))
        for name in state.discard:
            if name not in response.cookies:
                # Never a token of ours, whatever the page did: cleared on
                # any answer (even one that did not look at the user, even a
                # 5xx), or the browser would present it forever.
                clear_auth_cookie(response, name)
        if state.read_cookies or _sets_auth_cookies(response):
            _keep_private(response)
        return response


def _keep_conflicting_cookies(response: HttpResponse) -> None:
    """Never delete our cookies while a planted twin is present: only ours
    (host-only) would go, and the next request would carry the planted one
    alone, inside the attacker's account. Both stay, so every request is
    refused until the planted one expires; a fresh login's cookies still go
    out (that browser stays signed out while the twin remains)."""
    patch_vary_headers(response, ("Cookie",))
    for name in (app_settings.ACCESS_COOKIE, app_settings.REFRESH_COOKIE):
        morsel = response.cookies.get(name)
        if morsel is not None and morsel.value == "":
            del response.cookies[name]


def _duplicated_cookies(request: HttpRequest) -> tuple[str, ...]:
    """The auth cookie names the raw Cookie header carries more than once."""
    raw = request.META.get("HTTP_COOKIE", "")
    names = (app_settings.ACCESS_COOKIE, app_settings.REFRESH_COOKIE)
    if not raw or not any(raw.count(name) > 1 for name in names):
        return ()  # the common case, without splitting the header
    sent = [part.partition("=")[0].strip() for part in raw.split(";")]
    return tuple(name for name in names if sent.count(name) > 1)


def _malformed_cookies(request: HttpRequest) -> tuple[str, ...]:
    names = (app_settings.ACCESS_COOKIE, app_settings.REFRESH_COOKIE)
    return tuple(name for name in names if request.COOKIES.get(name) and is_malformed(request.COOKIES[name]))


def _update_cookies(response: HttpResponse, state: _State) -> None:
    patch_vary_headers(response, ("Cookie",))
    if app_settings.ACCESS_COOKIE in response.cookies:
        return  # the view logged in or out and set its own cookies
    if state.pair is not None:
        # The rotation is committed: the browser must get the new tokens
        # even on an error page, or its next request presents a retired one.
        set_auth_cookies(response, state.pair)
    elif state.clear and response.status_code < 500:
        clear_auth_cookies(response)
