"""The native-app endpoints under /api/auth/app/ (bearer.py): the tokens in
the body, never in cookies. Every other endpoint of the API (``me``,
``sessions``, ``logout-all``...) takes ``Authorization: Bearer <access>``
as well, through ``BearerTokenAuthentication``.

No CSRF check: nothing here reads or sets a cookie, so a cross-site form
can neither ride on one nor plant one (and cannot read the answer).
"""

from __future__ import annotations

from typing import Any

from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import bearer, flows
from .api import (
    CredentialsSerializer,
    HasLiveSession,
    authenticate_credentials,
    bearer_tokens_body,
    rotated,
)
from .authentication import BearerTokenAuthentication, refuse_mixed
from .request_attrs import token_session
from .serializers import DetailSerializer


class AppCredentialsSerializer(CredentialsSerializer):
    remember = None  # an app's session is always remembered
    device = serializers.CharField(
        max_length=100,
        required=False,
        default="",
        allow_blank=True,
        help_text='How the devices page lists this app, e.g. "Notes on Pixel 8".',
    )


class RefreshTokenSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=8192, trim_whitespace=False)


class _AppEndpoint(APIView):
    """Neither reads nor sets the auth cookies; refuses a request carrying
    one beside a bearer token."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        refuse_mixed(request._request)

    def get_authenticate_header(self, request: Request) -> str:
        return f'{bearer.SCHEME} realm="api"'

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Tokens, or an answer about them: kept by no cache, shared or not.
        # (The cookies count too: present beside a bearer token, they are refused.)
        patch_vary_headers(response, ("Authorization", "Cookie"))
        patch_cache_control(response, private=True, no_store=True)
        return response


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class AppLoginView(_AppEndpoint):
    def post(self, request: Request) -> Response:
        serializer = AppCredentialsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate_credentials(request, serializer.validated_data)
        pair = bearer.log_in(request._request, user, device=serializer.validated_data["device"])
        return Response(bearer_tokens_body(user, pair))


class AppRefreshView(_AppEndpoint):
    def post(self, request: Request) -> Response:
        serializer = RefreshTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        raw = serializer.validated_data["refresh"]
        pair = rotated(self, request, lambda: bearer.refresh(request._request, raw))
        if isinstance(pair, Response):
            return pair
        return Response(bearer_tokens_body(pair.user, pair))


class AppLogoutView(_AppEndpoint):
    """Ends the device session of the bearer token (a browser's cookies are
    never read here: 401 without the header)."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasLiveSession]

    def post(self, request: Request) -> Response:
        session = token_session(request)
        flows.log_out_device(request._request, session, session.pk)
        return Response(DetailSerializer({"detail": "Logged out."}).data)
