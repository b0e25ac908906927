"""Browser side: ``request.user`` from the access cookie, with silent refresh.

Who the user is, and the silent refresh, are ``request_user.py``'s job; this
module wires it into the request (lazily, like Django's own
AuthenticationMiddleware) and puts the outcome on the response: new cookies,
cleared cookies, ``private, no-store``.

Sync and async capable: under ASGI with an async view, neither the request
nor the response side leaves the event loop (no thread hop; neither does any
I/O), and ``await request.auser()`` resolves the user natively.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from asgiref.sync import sync_to_async
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.functional import SimpleLazyObject

from . import kept
from .conf import app_settings
from .cookies import clear_auth_cookie, clear_auth_cookies, set_auth_cookies
from .request_attrs import set_token_claims
from .request_user import (
    HANDOFF_SESSION_KEY,
    State,
    attach_state,
    auser_of,
    deliver_tokens,
    forget_tokens,
    note_cookies_read,
    state_of,
    user_of,
)
from .tokens import is_malformed

if TYPE_CHECKING:
    from django.contrib.auth.models import _AnyUser

logger = logging.getLogger(__name__)

# Imported from here by receivers.py and authentication.py.
__all__ = [
    "HANDOFF_SESSION_KEY",
    "TokenAuthenticationMiddleware",
    "deliver_tokens",
    "forget_tokens",
    "note_cookies_read",
]


def _sets_auth_cookies(response: HttpResponseBase) -> bool:
    return app_settings.ACCESS_COOKIE in response.cookies or app_settings.REFRESH_COOKIE in response.cookies


def _keep_private(response: HttpResponseBase) -> None:
    # One user's page, or a Set-Cookie carrying their tokens: no shared cache
    # may keep it, nor the browser's history once they signed out.
    patch_vary_headers(response, ("Cookie",))
    patch_cache_control(response, private=True, no_store=True)


class TokenAuthenticationMiddleware(AuthenticationMiddleware):
    """Replaces Django's AuthenticationMiddleware: the tokens decide who is
    signed in, whether or not Django's SessionMiddleware is installed too.

    A subclass of it, so the admin's system check accepts it.
    """

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        # MiddlewareMixin's (async mode: an async get_response) would run
        # both halves in a thread; they do no I/O and need none.
        self.process_request(request)
        # Django calls __acall__ only in async mode: get_response is a coroutine function.
        response = await cast("Awaitable[HttpResponseBase]", self.get_response(request))
        if request.method == "POST" and getattr(state_of(request), "touched", False):
            # The one case with I/O: kept.capture may keep the form in the cache.
            return await sync_to_async(self.process_response)(request, response)
        return self.process_response(request, response)

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
            attach_state(request, State(conflicting=True))
        else:
            attach_state(request, State(discard=_malformed_cookies(request)))
        set_token_claims(request, None)
        # A TokenUser stands in for the user model (users.py); request.user is
        # a lazy proxy of it, as Django's own middleware puts there.
        request.user = cast("_AnyUser", SimpleLazyObject(partial(user_of, request)))
        request.auser = cast("Callable[[], Awaitable[_AnyUser]]", partial(auser_of, request))

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        state = state_of(request)
        if state is None:
            return response
        if state.conflicting:
            _keep_conflicting_cookies(response)
            return response
        if state.touched:
            _update_cookies(response, state)
            if request.method == "POST":
                kept.capture(request, response)  # a form turned away to sign in (kept.py)
        _discard_malformed(response, state)
        if state.read_cookies or _sets_auth_cookies(response):
            _keep_private(response)
        return response


def _discard_malformed(response: HttpResponseBase, state: State) -> None:
    if state.discard:
        patch_vary_headers(response, ("Cookie",))
    for name in state.discard:
        if name not in response.cookies:
            # Never a token of ours, whatever the page did: cleared on
            # any answer (even one that did not look at the user, even a
            # 5xx), or the browser would present it forever.
            clear_auth_cookie(response, name)


def _keep_conflicting_cookies(response: HttpResponseBase) -> None:
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


def _update_cookies(response: HttpResponseBase, state: State) -> None:
    patch_vary_headers(response, ("Cookie",))
    if app_settings.ACCESS_COOKIE in response.cookies:
        return  # the view logged in or out and set its own cookies
    if state.pair is not None:
        # The rotation is committed: the browser must get the new tokens
        # even on an error page, or its next request presents a retired one.
        set_auth_cookies(response, state.pair)
    elif state.clear and response.status_code < 500:
        clear_auth_cookies(response)
