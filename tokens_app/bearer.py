"""Native apps: the same device sessions, with the tokens in the body and the
``Authorization`` header instead of cookies. Knows no framework (DRF's and
ninja's classes use it).

An app signs in with its credentials and receives both tokens in the answer;
it sends ``Authorization: Bearer <access>`` and, when the access token has
expired, posts the refresh token to the refresh endpoint for a new pair.
Rotation, reuse detection, the refresh limit and revocation are the
browser's (``flows``); CSRF is not, since no ambient credential is involved.

One request, one transport: wherever either could authenticate (the API's
endpoints, ninja's), a request that carries both a bearer token and an auth
cookie is refused (401 ``MixedCredentials``), so which one speaks is never
guessed. The app endpoints never read the cookies, the pages and the cookie
endpoints (``/api/auth/login|refresh|logout/``) never read the header: a
browser's cookies never authenticate a bearer endpoint, nor a bearer token a
cookie one.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import flows
from .conf import app_settings
from .devices import describe
from .exceptions import TokenError
from .models import LoginSession

SCHEME = "Bearer"


class MixedCredentials(TokenError):
    """Cookies and an Authorization header in one request: which one speaks is
    not guessed."""

    code = "mixed_credentials"
    message = _("Send the tokens either as cookies or in the Authorization header, not both.")


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None without
    a Bearer header (another scheme, e.g. Basic, is not ours). A Bearer
    header with no token, or with spaces in it, is a TokenError."""
    scheme, _sep, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != SCHEME.lower():
        return None
    token = token.strip()
    if not token or " " in token:
        raise TokenError()
    return token


def has_auth_cookies(request: HttpRequest) -> bool:
    return bool(
        request.COOKIES.get(app_settings.ACCESS_COOKIE) or request.COOKIES.get(app_settings.REFRESH_COOKIE)
    )


def refuse_mixed(request: HttpRequest) -> None:
    """Raise MixedCredentials if ``request`` carries a bearer token and an auth cookie."""
    if "HTTP_AUTHORIZATION" in request.META and has_auth_cookies(request):
        scheme = request.META["HTTP_AUTHORIZATION"].partition(" ")[0]
        if scheme.lower() == SCHEME.lower():
            raise MixedCredentials()


def device_label(request: HttpRequest, name: str = "") -> str:
    """How the devices page lists an app's session: the name the app gave
    (``"Notes on Pixel 8"``), else its User-Agent described, marked as an app."""
    base = name.strip() or describe(request.META.get("HTTP_USER_AGENT", ""))
    return f"{base[:190]} (app)"


def log_in(request: HttpRequest, user: AbstractBaseUser, *, device: str = "") -> flows.TokenPair:
    """A device session for an app: remembered (an app has no browser session
    to end with), labelled as an app on the devices page."""
    pair = flows.log_in(request, user, remember=True)
    # flows labels sessions from the User-Agent; an app's own name says more.
    LoginSession.objects.filter(pk=pair.access.claims.sid).update(user_agent=device_label(request, device))
    return pair


def refresh(request: HttpRequest, raw: str | None) -> flows.TokenPair:
    """``flows.refresh_request`` for a refresh token from the body rather than
    the cookie: the same rotation, the same per-client limit, counted the same way."""
    return flows.refresh_request(request, raw=raw or "")
