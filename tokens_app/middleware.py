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
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.deprecation import MiddlewareMixin
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from . import flows, revocation, throttling
from .conf import app_settings
from .cookies import clear_auth_cookie, clear_auth_cookies, set_auth_cookies
from .exceptions import TokenError, TokenExpired, TokenReused, TokenRevoked
from .tokens import Claims, is_malformed
from .users import TokenUser

logger = logging.getLogger(__name__)


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


def _resolved_user(request: HttpRequest):
    _ = request.user.is_authenticated  # resolves once; the lazy object keeps it
    return request.user


class TokenAuthenticationMiddleware(AuthenticationMiddleware):
    """Replaces Django's AuthenticationMiddleware (and SessionMiddleware).

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
        if state.discard:
            patch_vary_headers(response, ("Cookie",))
        for name in state.discard:
            if name not in response.cookies:
                # Never a token of ours, whatever the page did: cleared on
                # any answer (even one that did not look at the user, even a
                # 5xx), or the browser would present it forever.
                clear_auth_cookie(response, name)
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


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


class ServiceUnavailableMiddleware(MiddlewareMixin):
    """A database that is down answers 503, never a traceback, and keeps the cookies."""

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not isinstance(exception, DatabaseError):
            return None
        logger.error("database unavailable: %s", type(exception).__name__)
        if wants_json(request):
            response = JsonResponse(
                {
                    "detail": _("The service is temporarily unavailable. Please try again shortly."),
                    "code": "service_unavailable",
                },
                status=503,
            )
        else:
            # No request context: the page must not touch request.user, which
            # would need the database that just failed.
            response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = "5"
        return response
