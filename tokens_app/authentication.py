"""DRF side: authenticate API requests from the access cookie (CSRF enforced)
or, for native apps, from an ``Authorization: Bearer`` header (bearer.py).

No silent refresh here: an API client gets 401 with ``code`` ``token_expired``
and calls the refresh endpoint itself (``/api/auth/refresh/`` with the cookie,
``/api/auth/app/refresh/`` with the token in the body), then retries.

DRF views are sync (DRF has no async views); the user resolution under an
async view is the middleware's ``request.auser()`` and ninja.py's classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, CSRFCheck
from rest_framework.request import Request

from . import bearer, revocation_check
from .conf import app_settings
from .exceptions import TokenError
from .middleware import HANDOFF_SESSION_KEY, note_cookies_read
from .request_attrs import token_claims
from .tokens import Claims
from .users import TokenUser

if TYPE_CHECKING:
    from django.contrib.auth.models import _AnyUser

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class MixedCredentialsError(exceptions.AuthenticationFailed):
    default_code = bearer.MixedCredentials.code
    default_detail = bearer.MixedCredentials.message


def _reject(exc: TokenError) -> NoReturn:
    raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from exc


def refuse_mixed(request: HttpRequest) -> None:
    """401 ``mixed_credentials`` for a request with a bearer token and an auth cookie."""
    try:
        bearer.refuse_mixed(request)
    except bearer.MixedCredentials:
        raise MixedCredentialsError() from None


def enforce_csrf(request: Request) -> None:
    """The check DRF's SessionAuthentication makes: cookies are ambient
    credentials, so every unsafe request must prove it came from our pages."""

    if request.method in _SAFE_METHODS:
        # CsrfViewMiddleware.process_view accepts these before any check;
        # answering here spares building a CSRFCheck on every API read.
        return

    def dummy_get_response(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
        return HttpResponse()

    check = CSRFCheck(dummy_get_response)
    check.process_request(request)
    # The view is not known here; the check only asks a view for csrf_exempt.
    reason = check.process_view(request, dummy_get_response, (), {})
    if reason:
        raise exceptions.PermissionDenied(f"CSRF Failed: {reason}")


def _authenticated(raw: str) -> tuple[TokenUser, Claims]:
    try:
        claims = revocation_check.verify_current_access(raw)
    except TokenError as exc:
        _reject(exc)
    return TokenUser(claims, on_revoked=_reject), claims


class CookieTokenAuthentication(BaseAuthentication):
    """``request.user`` from the ``access_token`` cookie; ``request.auth`` is its Claims."""

    def authenticate(self, request: Request) -> tuple[TokenUser | _AnyUser, Claims | None] | None:
        refuse_mixed(request._request)
        raw = request.COOKIES.get(app_settings.ACCESS_COOKIE)
        if not raw:
            return self._login_handoff(request)
        # Whatever the answer (the user's data or a 401), it was made from the cookie.
        note_cookies_read(request._request)
        user, claims = _authenticated(raw)
        enforce_csrf(request)
        return user, claims

    def _login_handoff(self, request: Request) -> tuple[_AnyUser, Claims | None] | None:
        """A client signed in by the test client's ``login()`` holds no token
        yet, only a one-time handoff in its Django session: the middleware
        redeems it (and sets the cookies on this response)."""
        django_request = request._request
        if HANDOFF_SESSION_KEY not in getattr(django_request, "session", ()):
            return None
        user = django_request.user
        if not user.is_authenticated:
            return None
        enforce_csrf(request)
        return user, token_claims(django_request)

    def authenticate_header(self, request: Request) -> str:
        # A WWW-Authenticate value makes DRF answer 401 rather than 403.
        return 'Cookie realm="api"'


class BearerTokenAuthentication(BaseAuthentication):
    """``request.user`` from an ``Authorization: Bearer <access>`` header (a
    native app, bearer.py); no CSRF check, since nothing is ambient. Refuses
    a request that also carries an auth cookie."""

    def authenticate(self, request: Request) -> tuple[TokenUser, Claims] | None:
        try:
            raw = bearer.bearer_token(request._request)
        except TokenError as exc:
            _reject(exc)
        if raw is None:
            return None
        refuse_mixed(request._request)
        # One user's answer, like a cookie-authenticated one: private, no-store.
        note_cookies_read(request._request)
        return _authenticated(raw)

    def authenticate_header(self, request: Request) -> str:
        return f'{bearer.SCHEME} realm="api"'


def claims_of(request: Request) -> Claims:
    """``request.auth`` for a view behind ``IsAuthenticated`` on this app's
    authenticators: the access token's claims (401 if another one answered)."""
    if not isinstance(request.auth, Claims):
        raise exceptions.NotAuthenticated()
    return request.auth


def is_bearer(request: Request) -> bool:
    """Whether ``request`` was authenticated by its Authorization header."""
    return isinstance(getattr(request, "successful_authenticator", None), BearerTokenAuthentication)
