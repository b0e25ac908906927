"""The JSON API under /api/auth/. Thin: every step is a call into ``flows``."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.validators import RegexValidator
from django.http import Http404
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from . import flows, revocation, throttling
from .authentication import enforce_csrf
from .conf import app_settings
from .cookies import clear_auth_cookies, set_auth_cookies
from .exceptions import TokenError, TokenExpired
from .models import LoginSession
from .reauth import RecentlyAuthenticated
from .schema import (
    CountSerializer,
    CsrfSerializer,
    DetailSerializer,
    MeSerializer,
    SessionSerializer,
    TokensSerializer,
    errors,
    refresh_cookie,
)
from .views import CLEAR_SITE_DATA


def exception_handler(exc, context):
    """DRF's handler, plus a stable ``code`` beside ``detail`` in every error."""
    # Django's own exceptions become their DRF twins first, so they get a code too.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(response.data, dict) and isinstance(codes, str):
            response.data.setdefault("code", codes)
        elif isinstance(codes, dict):
            response.data = {"detail": "Invalid input.", "code": "invalid", "errors": response.data}
    return response


# DRF refuses NUL characters in any CharField (400); saying so in the schema
# (as a pattern) keeps the documented input and the accepted input the same.
_NO_NUL = RegexValidator(r"^[^\x00]*$", message="Null characters are not allowed.")


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False, validators=[_NO_NUL])
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}, validators=[_NO_NUL]
    )
    remember = serializers.BooleanField(
        default=True,
        help_text="False: browser-session cookies and the shorter maximum lifetime (remember me unticked).",
    )


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}, validators=[_NO_NUL]
    )


def user_payload(user) -> dict:
    return {
        "id": user.pk,
        "username": user.get_username(),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


def tokens_payload(user, pair: flows.TokenPair) -> dict:
    return {
        "user": user_payload(user),
        "access_expires": pair.access.claims.expires_at.isoformat(),
        "refresh_expires": pair.refresh.claims.expires_at.isoformat(),
    }


class _CookieEndpoint(APIView):
    """Endpoints that act on the auth cookies themselves: no authenticator, but
    the CSRF check still runs (no login CSRF, no cross-site logout)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A method with no handler gets its 405 from dispatch, not a CSRF 403.
        has_handler = request.method.lower() in self.http_method_names and hasattr(
            self, request.method.lower()
        )
        if has_handler and request.method not in ("GET", "HEAD", "OPTIONS"):
            enforce_csrf(request)

    def get_authenticate_header(self, request) -> str:
        return 'Cookie realm="api"'


@method_decorator(ensure_csrf_cookie, name="dispatch")
class CsrfView(_CookieEndpoint):
    """Sets the ``csrftoken`` cookie; its value goes in the X-CSRFToken header."""

    @extend_schema(responses={200: CsrfSerializer}, summary="Set the csrftoken cookie")
    def get(self, request):
        return Response({"csrfToken": get_token(request._request)})


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class LoginView(_CookieEndpoint):
    @extend_schema(
        request=CredentialsSerializer,
        responses={200: TokensSerializer, **errors(400, 401, 403, 429)},
        summary="Log in: sets the access and refresh cookies",
        description="Failed logins are limited per account and per client IP (429 with Retry-After).",
    )
    def post(self, request):
        serializer = CredentialsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user = throttling.authenticate(
                request._request,
                username=serializer.validated_data["username"],
                password=serializer.validated_data["password"],
            )
        except throttling.RateLimited as exc:
            raise exceptions.Throttled(wait=exc.retry_after) from None
        if user is None:
            raise exceptions.AuthenticationFailed(
                "Unable to log in with the provided credentials.", code="invalid_credentials"
            )
        pair = flows.log_in(request._request, user, remember=serializer.validated_data["remember"])
        response = Response(tokens_payload(user, pair))
        set_auth_cookies(response, pair)
        return response


class RefreshView(_CookieEndpoint):
    @extend_schema(
        request=None,
        parameters=[refresh_cookie()],
        responses={200: TokensSerializer, **errors(401, 403, 429)},
        summary="Rotate the refresh cookie; new access and refresh cookies",
    )
    def post(self, request):
        try:
            throttling.check_refresh(request._request)
        except throttling.RateLimited as exc:
            raise exceptions.Throttled(wait=exc.retry_after) from None
        try:
            pair = flows.refresh(request.COOKIES.get(app_settings.REFRESH_COOKIE), request=request._request)
        except TokenError as exc:
            if not isinstance(exc, TokenExpired):
                # Expired tokens are genuine; guessed or replayed ones count.
                throttling.refresh_failed(request._request)
            response = Response(
                {"detail": str(exc.message), "code": exc.code},
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": self.get_authenticate_header(request)},
            )
            clear_auth_cookies(response)
            return response
        response = Response(tokens_payload(pair.user, pair))
        set_auth_cookies(response, pair)
        return response


class LogoutView(_CookieEndpoint):
    @extend_schema(
        request=None,
        parameters=[refresh_cookie()],
        responses={200: DetailSerializer, **errors(403)},
        summary="Log out this device",
    )
    def post(self, request):
        flows.log_out(request._request)
        response = Response({"detail": "Logged out."})
        clear_auth_cookies(response)
        response["Clear-Site-Data"] = CLEAR_SITE_DATA
        return response


class LogoutAllView(APIView):
    permission_classes = [IsAuthenticated, RecentlyAuthenticated]

    @extend_schema(
        request=None,
        responses={200: DetailSerializer, **errors(401, 403)},
        summary="Log out on every device",
        description="Needs a recent sign-in: 403 with code reauthentication_required otherwise.",
    )
    def post(self, request):
        flows.log_out_everywhere(request._request, request.user)
        response = Response({"detail": "Logged out on all devices."})
        clear_auth_cookies(response)
        response["Clear-Site-Data"] = CLEAR_SITE_DATA
        return response


class LogoutOthersView(APIView):
    permission_classes = [IsAuthenticated, RecentlyAuthenticated]

    @extend_schema(
        request=None,
        responses={200: CountSerializer, **errors(401, 403)},
        summary="Log out every other device",
        description="Needs a recent sign-in: 403 with code reauthentication_required otherwise.",
    )
    def post(self, request):
        count = flows.log_out_other_devices(request._request, request.user)
        return Response({"detail": f"Logged out {count} other device(s).", "count": count})


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class ReauthenticateView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=PasswordSerializer,
        responses={200: TokensSerializer, **errors(400, 401, 403, 429)},
        summary="Confirm the password: new cookies with a fresh auth_time",
        description="Limited like a login (per account and per client IP: 429 with Retry-After).",
    )
    def post(self, request):
        serializer = PasswordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user = throttling.authenticate(
                request._request,
                username=request.user.get_username(),
                password=serializer.validated_data["password"],
            )
        except throttling.RateLimited as exc:
            raise exceptions.Throttled(wait=exc.retry_after) from None
        if user is None or user.pk != request.user.pk:
            raise exceptions.AuthenticationFailed("That is not your password.", code="invalid_credentials")
        try:
            pair = flows.reauthenticate(request._request, user)
        except TokenError as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from exc
        response = Response(tokens_payload(user, pair))
        set_auth_cookies(response, pair)
        return response


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: MeSerializer, **errors(401)}, summary="The signed-in user")
    def get(self, request):
        return Response(
            {
                "user": user_payload(request.user),
                "access_expires": request.auth.expires_at.isoformat(),
            }
        )


def session_payload(session: LoginSession, current_sid: str | None) -> dict:
    return {
        "id": str(session.pk),
        "device": session.user_agent,
        "ip_address": session.ip_address,
        "created_at": session.created_at.isoformat(),
        "last_used_at": session.last_used_at.isoformat(),
        "expires_at": session.expires_at.isoformat(),
        "remembered": session.persistent,
        "ends_at": flows.session_deadline(session).isoformat(),
        "current": str(session.pk) == current_sid,
    }


class SessionListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={200: SessionSerializer(many=True), **errors(401)}, summary="The user's signed-in devices"
    )
    def get(self, request):
        sessions = LoginSession.objects.active().filter(user_id=request.user.pk)
        return Response([session_payload(s, request.auth.sid) for s in sessions])


class SessionDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={204: OpenApiResponse(description="Logged out"), **errors(401, 403, 404)},
        summary="Log out one device",
    )
    def delete(self, request, session_id):
        # Another user's session is indistinguishable from a missing one: 404.
        session = get_object_or_404(
            LoginSession.objects.active().select_related("user"), pk=session_id, user_id=request.user.pk
        )
        revocation.revoke_session(
            session, reason="logout_device", actor=session.user, request=request._request
        )
        response = Response(status=status.HTTP_204_NO_CONTENT)
        if str(session.pk) == request.auth.sid:
            clear_auth_cookies(response)
        return response
