"""DRF side: authenticate API requests from the access cookie, with CSRF enforced.

No silent refresh here: an API client gets 401 with ``code`` ``token_expired``
and calls ``POST /api/auth/refresh/`` itself, then retries.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, CSRFCheck

from . import revocation
from .conf import app_settings
from .exceptions import TokenError
from .middleware import HANDOFF_SESSION_KEY
from .tokens import Claims
from .users import TokenUser

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _reject(exc: TokenError):
    raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from exc


def enforce_csrf(request) -> None:
    """The check DRF's SessionAuthentication makes: cookies are ambient
    credentials, so every unsafe request must prove it came from our pages."""

    if request.method in _SAFE_METHODS:
        # CsrfViewMiddleware.process_view accepts these before any check;
        # answering here spares building a CSRFCheck on every API read.
        return

    def dummy_get_response(request):  # pragma: no cover - never called
        return None

    check = CSRFCheck(dummy_get_response)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    if reason:
        raise exceptions.PermissionDenied(f"CSRF Failed: {reason}")


class CookieTokenAuthentication(BaseAuthentication):
    """``request.user`` from the ``access_token`` cookie; ``request.auth`` is its Claims."""

    def authenticate(self, request) -> tuple[TokenUser, Claims] | None:
        raw = request.COOKIES.get(app_settings.ACCESS_COOKIE)
        if not raw:
            return self._login_handoff(request)
        try:
            claims = revocation.verify_current_access(raw)
        except TokenError as exc:
            _reject(exc)
        enforce_csrf(request)
        return TokenUser(claims, on_revoked=_reject), claims

    def _login_handoff(self, request) -> tuple[TokenUser, Claims] | None:
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
        return user, django_request.token_claims

    def authenticate_header(self, request) -> str:
        # A WWW-Authenticate value makes DRF answer 401 rather than 403.
        return 'Cookie realm="api"'
