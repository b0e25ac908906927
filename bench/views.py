"""The one JSON page every arm serves, behind different authentication.

``page_body`` is the whole view body; the arms differ only in what stands in
front of it (nothing, Django's session auth, our middleware, DRF with or
without our authentication class).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, JsonResponse
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

_NOBODY = AnonymousUser()
_ITEMS = [{"id": n, "title": f"Item {n}", "done": n % 3 == 0} for n in range(10)]


def page_body(user) -> dict:
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
