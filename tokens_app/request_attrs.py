"""The attributes this app puts on a request, behind typed accessors
(``HttpRequest`` declares none of them, and a literal ``setattr`` would hide
the name from every reader):

- ``request.token_claims``: the claims of the access token that signed the
  request in, or None; set by the middleware and the DRF and ninja
  authentication.
- ``request.token_session``: the live device session, for the views behind
  ``live_session_required`` and the API's ``HasLiveSession``.

``AuthenticatedHttpRequest`` (for type checking only) is the request of a
view behind ``login_required``.

The middleware's own bookkeeping (``request._tokens_state``) has its accessors
beside its class, in request_user.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

from .tokens import Claims

if TYPE_CHECKING:
    from django.contrib.auth.models import _User
    from rest_framework.request import Request

    from .models import LoginSession

    class AuthenticatedHttpRequest(HttpRequest):
        """The request of a view behind ``login_required`` (django-stubs'
        advice for such views): its user is signed in."""

        user: _User


CLAIMS_ATTRIBUTE = "token_claims"
SESSION_ATTRIBUTE = "token_session"


def token_claims(request: HttpRequest) -> Claims | None:
    """``request.token_claims``; None on a request no token signed in."""
    claims: Claims | None = getattr(request, CLAIMS_ATTRIBUTE, None)
    return claims


def set_token_claims(request: HttpRequest, claims: Claims | None) -> None:
    setattr(request, CLAIMS_ATTRIBUTE, claims)


def token_session(request: HttpRequest | Request) -> LoginSession:
    """``request.token_session``: only behind the decorators that set it (an
    AttributeError elsewhere, as reading the attribute itself would be)."""
    session: LoginSession = getattr(request, SESSION_ATTRIBUTE)
    return session


def set_token_session(request: HttpRequest | Request, session: LoginSession) -> None:
    setattr(request, SESSION_ATTRIBUTE, session)
