"""The OpenAPI description of the JSON API (drf-spectacular), served at /api/schema/.

What the code cannot tell drf-spectacular: the cookie the authentication
class reads, and the error bodies every endpoint can answer with.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .conf import app_settings


class CookieTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tokens_app.authentication.CookieTokenAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": app_settings.ACCESS_COOKIE,
            "description": (
                "The access token cookie set by /api/auth/login/ and /api/auth/refresh/. "
                f"Unsafe methods also need the {settings.CSRF_COOKIE_NAME} cookie echoed in an "
                "X-CSRFToken header (get it from /api/auth/csrf/)."
            ),
        }


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="A human-readable, translatable message.")
    code = serializers.CharField(help_text="A stable code, e.g. token_expired, invalid_credentials.")
    errors = serializers.DictField(
        required=False,
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per-field messages, with code 'invalid' (400 only).",
    )


_DESCRIPTIONS = {
    400: "Invalid input; per-field messages in errors.",
    401: "Not authenticated: missing, invalid, expired or revoked token (see code).",
    403: "Refused: CSRF check failed, or not allowed.",
    404: "Not found (another user's object is not found either).",
    429: "Too many attempts; the Retry-After header says when to try again.",
}


def refresh_cookie() -> OpenApiParameter:
    return OpenApiParameter(
        app_settings.REFRESH_COOKIE,
        OpenApiTypes.STR,
        location=OpenApiParameter.COOKIE,
        required=False,
        description="The refresh token cookie (HttpOnly; the browser sends it).",
    )


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error responses for ``statuses``."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status]) for status in statuses
    }


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField(allow_blank=True)
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)


class TokensSerializer(serializers.Serializer):
    user = UserSerializer()
    access_expires = serializers.DateTimeField()
    refresh_expires = serializers.DateTimeField()


class MeSerializer(serializers.Serializer):
    user = UserSerializer()
    access_expires = serializers.DateTimeField()


class CsrfSerializer(serializers.Serializer):
    csrfToken = serializers.CharField()  # the JSON key the front end reads


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class SessionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    device = serializers.CharField(allow_blank=True)
    ip_address = serializers.IPAddressField(allow_null=True)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    current = serializers.BooleanField()
