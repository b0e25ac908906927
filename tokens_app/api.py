"""The JSON API under /api/auth/ (needs Django REST framework). Thin: every step
is a call into ``flows``. Its OpenAPI description is in ``schema.py``, loaded only
where drf-spectacular is installed."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.validators import RegexValidator
from django.http import Http404
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from . import flows, throttling
from .authentication import enforce_csrf
from .cookies import clear_auth_cookies, set_auth_cookies
from .exceptions import TokenError, TokenRevoked
from .models import LoginSession
from .permissions import RecentlyAuthenticated
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

    def get(self, request):
        return Response({"csrfToken": get_token(request._request)})


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class LoginView(_CookieEndpoint):
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
    def post(self, request):
        try:
            pair = flows.refresh_request(request._request)
        except throttling.RateLimited as exc:
            raise exceptions.Throttled(wait=exc.retry_after) from None
        except TokenError as exc:
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
    def post(self, request):
        flows.log_out(request._request)
        response = Response({"detail": "Logged out."})
        clear_auth_cookies(response)
        response["Clear-Site-Data"] = CLEAR_SITE_DATA
        return response


class HasLiveSession(IsAuthenticated):
    """For the endpoints that manage the account: the token's device session
    must be live in the database (flows.live_session), whatever the
    immediate-revocation setting; an ended one is 401 ``token_revoked``. The
    session is ``request.token_session`` for the view."""

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        session = flows.live_session(request.auth)
        if session is None:
            raise exceptions.AuthenticationFailed(TokenRevoked.message, code=TokenRevoked.code)
        request.token_session = session
        return True


class LogoutAllView(APIView):
    permission_classes = [HasLiveSession, RecentlyAuthenticated]

    def post(self, request):
        flows.log_out_everywhere(request._request, request.token_session.user)
        response = Response({"detail": "Logged out on all devices."})
        clear_auth_cookies(response)
        response["Clear-Site-Data"] = CLEAR_SITE_DATA
        return response


class LogoutOthersView(APIView):
    permission_classes = [HasLiveSession, RecentlyAuthenticated]

    def post(self, request):
        count = flows.log_out_other_devices(request._request, request.token_session)
        return Response({"detail": f"Logged out {count} other device(s).", "count": count})


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class ReauthenticateView(APIView):
    permission_classes = [IsAuthenticated]

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
    permission_classes = [HasLiveSession]

    def get(self, request):
        sessions = LoginSession.objects.active().filter(user_id=request.token_session.user_id)
        return Response([session_payload(s, request.auth.sid) for s in sessions])


class SessionDetailView(APIView):
    permission_classes = [HasLiveSession]

    def delete(self, request, session_id):
        session = flows.log_out_device(request._request, request.token_session, session_id)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        if session.pk == request.token_session.pk:
            clear_auth_cookies(response)
        return response
