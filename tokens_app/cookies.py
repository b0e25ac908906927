"""Set and clear the auth cookies: one place for every attribute.

Both cookies are HttpOnly (page scripts never see a token), SameSite=Lax
(sent on top-level navigation from other sites, so following a link keeps you
signed in, but not on cross-site sub-requests or POSTs), Secure unless
debugging, and carry a Max-Age equal to the token's remaining life (which
never passes the session's maximum lifetime), except after a sign-in without
"remember me": then they are browser-session cookies, with no Max-Age or
Expires, gone when the browser closes.

Why the refresh cookie's Path is "/": the middleware refreshes silently on any
page whose access token has expired, so the browser must send the refresh
cookie with every page request. A narrower path (say /api/auth/refresh/) would
only work with client-side JavaScript that calls the refresh endpoint and
retries; this product promises that a plain HTML form keeps working after the
access token expires. Deployments that do refresh from JavaScript only can
narrow it with TOKENS_REFRESH_COOKIE_PATH.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .flows import TokenPair

from django.http import HttpResponseBase

from . import clock
from .conf import app_settings
from .tokens import IssuedToken


def _set(response: HttpResponseBase, name: str, value: str, *, path: str, max_age: int | None) -> None:
    # max_age None: a browser-session cookie; 0: a deletion.
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        expires="Thu, 01 Jan 1970 00:00:00 GMT" if max_age == 0 else None,
        path=path,
        domain=app_settings.COOKIE_DOMAIN,
        secure=app_settings.COOKIE_SECURE,
        httponly=True,
        samesite=app_settings.COOKIE_SAMESITE,
    )


def _remaining(issued: IssuedToken, *, persistent: bool) -> int | None:
    if not persistent:
        return None
    return max(1, issued.claims.exp - int(clock.now().timestamp()))


def set_auth_cookies(response: HttpResponseBase, pair: TokenPair) -> None:
    """Put a fresh TokenPair (see flows) on the response."""
    persistent = getattr(pair, "persistent", True)
    _set(
        response,
        app_settings.ACCESS_COOKIE,
        pair.access.token,
        path="/",
        max_age=_remaining(pair.access, persistent=persistent),
    )
    _set(
        response,
        app_settings.REFRESH_COOKIE,
        pair.refresh.token,
        path=app_settings.REFRESH_COOKIE_PATH,
        max_age=_remaining(pair.refresh, persistent=persistent),
    )
    device = getattr(pair, "device", None)
    if device:
        set_device_cookie(response, device)


def set_device_cookie(response: HttpResponseBase, value: str) -> None:
    """The "signed in here before" cookie (throttling.py). Not a credential:
    it only lets this browser past the account-wide login limit, so it
    outlives the session and is not cleared at logout."""
    _set(
        response,
        app_settings.DEVICE_COOKIE,
        value,
        path="/",
        max_age=int(app_settings.DEVICE_COOKIE_LIFETIME.total_seconds()),
    )


def clear_auth_cookies(response: HttpResponseBase) -> None:
    # Deleting is setting an empty, already-expired cookie with exactly the
    # attributes it was set with; a different path or domain would leave the
    # original in the browser.
    clear_auth_cookie(response, app_settings.ACCESS_COOKIE)
    clear_auth_cookie(response, app_settings.REFRESH_COOKIE)


def clear_auth_cookie(response: HttpResponseBase, name: str) -> None:
    """Clear one of the two auth cookies, named by its configured name."""
    path = app_settings.REFRESH_COOKIE_PATH if name == app_settings.REFRESH_COOKIE else "/"
    _set(response, name, "", path=path, max_age=0)
