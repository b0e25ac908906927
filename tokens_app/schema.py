"""The OpenAPI description of the JSON API: the drf-spectacular integration.

Imported by ``apps.ready()`` only when ``drf_spectacular`` is installed, so
``api.py`` (and a site without OpenAPI) never imports drf-spectacular. What the
code cannot tell drf-spectacular: the cookie the authentication class reads,
the error bodies every endpoint can answer with, and the response shapes,
attached to the views from here as view extensions.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
    OpenApiViewExtension,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers

from .conf import app_settings
from .serializers import (
    BearerTokensSerializer,
    CountSerializer,
    CsrfSerializer,
    DetailSerializer,
    MeSerializer,
    SessionSerializer,
    TokensSerializer,
)


class CookieTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tokens_app.authentication.CookieTokenAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
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
    # A field, not Serializer.errors: the serializer metaclass takes declared
    # fields out of the class body, so the property is untouched.
    errors = serializers.DictField(  # type: ignore[assignment]
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


class UserIdSchema(OpenApiSerializerFieldExtension):
    """A user id is a number for integer keys, a string for UUID (or other) keys."""

    target_class = "tokens_app.serializers.UserIdField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {"oneOf": [{"type": "integer"}, {"type": "string"}]}


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tokens_app.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "For native apps: the access token from /api/auth/app/login/ or /api/auth/app/refresh/. "
                "No CSRF token; a request that also carries the auth cookies is refused "
                "(401 mixed_credentials)."
            ),
        }


def _describe(view_name: str, module: str = "api", **methods: Any) -> type[OpenApiViewExtension]:
    """Attach ``extend_schema`` descriptions to ``tokens_app.<module>.<view_name>``'s
    methods, on a subclass drf-spectacular uses only to build the schema."""

    def view_replacement(self: OpenApiViewExtension) -> type:
        described = type(self.target.__name__, (self.target,), {"__module__": self.target.__module__})
        return extend_schema_view(**methods)(described)

    return type(
        f"{view_name}Description",
        (OpenApiViewExtension,),
        {"target_class": f"tokens_app.{module}.{view_name}", "view_replacement": view_replacement},
    )


def _register() -> None:
    from .api import CredentialsSerializer

    _describe(
        "CsrfView", get=extend_schema(responses={200: CsrfSerializer}, summary="Set the csrftoken cookie")
    )
    _describe(
        "LoginView",
        post=extend_schema(
            request=CredentialsSerializer,
            responses={200: TokensSerializer, **errors(400, 401, 403, 429)},
            summary="Log in: sets the access and refresh cookies",
            description=(
                "Failed logins are limited per account and client, per account for browsers that never "
                "signed in to it (the known_device cookie), and per client IP (429 with Retry-After)."
            ),
        ),
    )
    _describe(
        "RefreshView",
        post=extend_schema(
            request=None,
            parameters=[refresh_cookie()],
            responses={200: TokensSerializer, **errors(401, 403, 429)},
            summary="Rotate the refresh cookie; new access and refresh cookies",
        ),
    )
    _describe(
        "LogoutView",
        post=extend_schema(
            request=None,
            parameters=[refresh_cookie()],
            responses={200: DetailSerializer, **errors(403)},
            summary="Log out this device",
        ),
    )
    _describe_account_endpoints()
    _describe_app_endpoints()


def _describe_account_endpoints() -> None:
    from .api import PasswordSerializer

    _describe(
        "LogoutAllView",
        post=extend_schema(
            request=None,
            responses={200: DetailSerializer, **errors(401, 403)},
            summary="Log out on every device",
            description="Needs a recent sign-in: 403 with code reauthentication_required otherwise.",
        ),
    )
    _describe(
        "LogoutOthersView",
        post=extend_schema(
            request=None,
            responses={200: CountSerializer, **errors(401, 403)},
            summary="Log out every other device",
            description="Needs a recent sign-in: 403 with code reauthentication_required otherwise.",
        ),
    )
    _describe(
        "ReauthenticateView",
        post=extend_schema(
            request=PasswordSerializer,
            responses={200: TokensSerializer, **errors(400, 401, 403, 429)},
            summary="Confirm the password: new cookies with a fresh auth_time",
            description="Limited like a login (per account and per client IP: 429 with Retry-After).",
        ),
    )
    _describe(
        "MeView",
        get=extend_schema(responses={200: MeSerializer, **errors(401)}, summary="The signed-in user"),
    )
    _describe(
        "SessionListView",
        get=extend_schema(
            responses={200: SessionSerializer(many=True), **errors(401)},
            summary="The user's signed-in devices",
        ),
    )
    _describe(
        "SessionDetailView",
        delete=extend_schema(
            responses={204: OpenApiResponse(description="Logged out"), **errors(401, 403, 404)},
            summary="Log out one device",
        ),
    )


def _describe_app_endpoints() -> None:
    from .api_app import AppCredentialsSerializer, RefreshTokenSerializer

    mixed = "401 with code mixed_credentials if the request also carries the auth cookies."
    _describe(
        "AppLoginView",
        "api_app",
        post=extend_schema(
            request=AppCredentialsSerializer,
            responses={200: BearerTokensSerializer, **errors(400, 401, 429)},
            summary="Native apps: log in, the tokens in the answer's body",
            description="Limited like the browser's login (429 with Retry-After). " + mixed,
        ),
    )
    _describe(
        "AppRefreshView",
        "api_app",
        post=extend_schema(
            request=RefreshTokenSerializer,
            responses={200: BearerTokensSerializer, **errors(400, 401, 429)},
            summary="Native apps: rotate the refresh token sent in the body",
            description="Reuse of a retired refresh token ends the session (401 token_reused). " + mixed,
        ),
    )
    _describe(
        "AppLogoutView",
        "api_app",
        post=extend_schema(
            request=None,
            responses={200: DetailSerializer, **errors(400, 401)},
            summary="Native apps: log out this device (Authorization: Bearer)",
            description=mixed,
        ),
    )


_register()
