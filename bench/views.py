"""The one JSON page every arm serves, behind different authentication.

``page_body`` is the whole view body; the arms differ only in what stands in
front of it (nothing, Django's session auth, our middleware, DRF with or
without our authentication class, simplejwt's classes). Plus the endpoint
the propagation probe bumps a token_version with, and simplejwt's refresh.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication, JWTStatelessUserAuthentication
from rest_framework_simplejwt.views import TokenRefreshView

from tokens_app import flows
from tokens_app.revocation import bump_token_version

_NOBODY = AnonymousUser()
_ITEMS = [{"id": n, "title": f"Item {n}", "done": n % 3 == 0} for n in range(10)]


def page_body(user: Any) -> dict[str, Any]:
    # Reads only what a typical page reads from request.user: id and username.
    return {"user": {"id": user.pk, "username": user.get_username()}, "items": _ITEMS}


def floor(request: HttpRequest) -> JsonResponse:
    """No authentication at all: request.user is never touched."""
    return JsonResponse(page_body(_NOBODY))


@login_required
def page(request: HttpRequest) -> JsonResponse:
    """Served at /bench/ours/ (our middleware) and /bench/django/ (Django's)."""
    return JsonResponse(page_body(request.user))


class ApiPage(APIView):
    """DRF with the project's defaults: CookieTokenAuthentication + IsAuthenticated."""

    def get(self, request: Request) -> Response:
        return Response(page_body(request.user))


class ApiPageNoAuth(ApiPage):
    """The same DRF view with no authentication: the DRF baseline."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class SimpleJWTPage(ApiPage):
    """The same DRF view behind simplejwt's JWTAuthentication (reads the user row)."""

    authentication_classes = [JWTAuthentication]
    permission_classes = [IsAuthenticated]


class SimpleJWTStatelessPage(SimpleJWTPage):
    """The same DRF view behind simplejwt's JWTStatelessUserAuthentication (no database)."""

    authentication_classes = [JWTStatelessUserAuthentication]


# simplejwt's own refresh view; bench.settings turns on rotation and the blacklist.
simplejwt_refresh = TokenRefreshView.as_view()


@require_POST
@login_required
def bump(request: HttpRequest) -> JsonResponse:
    """End every session of the signed-in user and sign in again, for the
    propagation probe: answers the wall time just after the bump committed and
    a fresh access token (the bump ended the old device session too)."""
    # The row itself: the request's user is our lazy stand-in for it.
    user = get_user_model()._default_manager.get(pk=request.user.pk)
    stamp: list[float] = []
    with transaction.atomic():
        # Registered first, so it runs at the database commit, before the
        # bump's own on-commit write of the new version to the cache.
        transaction.on_commit(lambda: stamp.append(time.time()))
        bump_token_version(user, reason="bench")
    committed_at = stamp[0]
    pair = flows.log_in(request, user)
    return JsonResponse({"committed_at": committed_at, "access": pair.access.token})
