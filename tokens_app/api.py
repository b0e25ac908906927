"""The JSON API under /api/auth/ (needs Django REST framework). Thin: every step
is a call into ``flows``. Its OpenAPI description is in ``schema.py``, loaded only
where drf-spectacular is installed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.validators import RegexValidator
from django.http import Http404
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from . import flows, throttling
from .authentication import claims_of, enforce_csrf, is_bearer
from .bearer import SCHEME
from .cookies import clear_auth_cookies, set_auth_cookies
from .exceptions import TokenError, TokenRevoked
from .models import LoginSession
from .permissions import RecentlyAuthenticated
from .request_attrs import set_token_session, token_session
from .serializers import (
    BearerTokensSerializer,
    CountSerializer,
    CsrfSerializer,
    DetailSerializer,
    MeSerializer,
    SessionSerializer,
    TokensSerializer,
    represent,
)
from .tokens import Claims
from .views import CLEAR_SITE_DATA


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
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
    # None in a subclass removes the field (DRF's way): AppCredentialsSerializer.
    remember: serializers.BooleanField | None = serializers.BooleanField(
        default=True,
        help_text="False: browser-session cookies and the shorter maximum lifetime (remember me unticked).",
    )


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}, validators=[_NO_NUL]
    )


def tokens_answer(request: Request, user: AbstractBaseUser, pair: flows.TokenPair) -> Response:
    """The answer carrying a fresh ``pair``: in cookies for a browser, in the
    body for a native app (a request authenticated by its Authorization header)."""
    if is_bearer(request):
        return Response(bearer_tokens_body(user, pair))
    response = Response(represent(TokensSerializer, _expiries(user, pair)))
    set_auth_cookies(response, pair)
    return response


def bearer_tokens_body(user: AbstractBaseUser, pair: flows.TokenPair) -> dict[str, Any]:
    """What a native app receives on sign-in and refresh."""
    tokens = {"token_type": SCHEME, "access": pair.access.token, "refresh": pair.refresh.token}
    return represent(BearerTokensSerializer, {**_expiries(user, pair), **tokens})


def _expiries(user: AbstractBaseUser, pair: flows.TokenPair) -> dict[str, Any]:
    return {
        "user": user,
        "access_expires": pair.access.claims.expires_at,
        "refresh_expires": pair.refresh.claims.expires_at,
    }


class _CookieEndpoint(APIView):
    """Endpoints that act on the auth cookies themselves: no authenticator, but
    the CSRF check still runs (no login CSRF, no cross-site logout)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # A method with no handler gets its 405 from dispatch, not a CSRF 403.
        method = (request.method or "").lower()
        has_handler = method in self.http_method_names and hasattr(self, method)
        if has_handler and request.method not in ("GET", "HEAD", "OPTIONS"):
            enforce_csrf(request)

    def get_authenticate_header(self, request: Request) -> str:
        return 'Cookie realm="api"'


@method_decorator(ensure_csrf_cookie, name="dispatch")
class CsrfView(_CookieEndpoint):
    """Sets the ``csrftoken`` cookie; its value goes in the X-CSRFToken header."""

    def get(self, request: Request) -> Response:
        return Response(CsrfSerializer({"csrfToken": get_token(request._request)}).data)


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class LoginView(_CookieEndpoint):
    def post(self, request: Request) -> Response:
        serializer = CredentialsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate_credentials(request, serializer.validated_data)
        pair = flows.log_in(request._request, user, remember=serializer.validated_data["remember"])
        return tokens_answer(request, user, pair)


def authenticate_credentials(request: Request, credentials: dict[str, Any]) -> AbstractBaseUser:
    """The user the credentials name, behind the login limits: 429 when
    over them, 401 ``invalid_credentials`` for a wrong password."""
    try:
        user = throttling.authenticate(
            request._request, username=credentials["username"], password=credentials["password"]
        )
    except throttling.RateLimited as exc:
        raise exceptions.Throttled(wait=exc.retry_after) from None
    if user is None:
        raise exceptions.AuthenticationFailed(
            "Unable to log in with the provided credentials.", code="invalid_credentials"
        )
    return user


def rotated(
    view: APIView, request: Request, refresh: Callable[[], flows.TokenPair]
) -> flows.TokenPair | Response:
    """The new pair from ``refresh()``, or the 401 that explains its refusal
    (429 when over the refresh limit)."""
    try:
        return refresh()
    except throttling.RateLimited as exc:
        raise exceptions.Throttled(wait=exc.retry_after) from None
    except TokenError as exc:
        return Response(
            {"detail": str(exc.message), "code": exc.code},
            status=status.HTTP_401_UNAUTHORIZED,
            headers={"WWW-Authenticate": view.get_authenticate_header(request)},
        )


class RefreshView(_CookieEndpoint):
    def post(self, request: Request) -> Response:
        pair = rotated(self, request, lambda: flows.refresh_request(request._request))
        if isinstance(pair, Response):
            clear_auth_cookies(pair)
            return pair
        return tokens_answer(request, pair.user, pair)


class LogoutView(_CookieEndpoint):
    def post(self, request: Request) -> Response:
        flows.log_out(request._request)
        response = Response(DetailSerializer({"detail": "Logged out."}).data)
        clear_auth_cookies(response)
        response["Clear-Site-Data"] = CLEAR_SITE_DATA
        return response


class HasLiveSession(IsAuthenticated):
    """For the endpoints that manage the account: the token's device session
    must be live in the database (flows.live_session), whatever the
    immediate-revocation setting; an ended one is 401 ``token_revoked``. The
    session is ``request.token_session`` for the view."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not super().has_permission(request, view):
            return False
        session = flows.live_session(request.auth if isinstance(request.auth, Claims) else None)
        if session is None:
            raise exceptions.AuthenticationFailed(TokenRevoked.message, code=TokenRevoked.code)
        set_token_session(request, session)
        return True


class LogoutAllView(APIView):
    permission_classes = [HasLiveSession, RecentlyAuthenticated]

    def post(self, request: Request) -> Response:
        flows.log_out_everywhere(request._request, token_session(request).user)
        response = Response(DetailSerializer({"detail": "Logged out on all devices."}).data)
        clear_auth_cookies(response)
        response["Clear-Site-Data"] = CLEAR_SITE_DATA
        return response


class LogoutOthersView(APIView):
    permission_classes = [HasLiveSession, RecentlyAuthenticated]

    def post(self, request: Request) -> Response:
        count = flows.log_out_other_devices(request._request, token_session(request))
        return Response(
            CountSerializer({"detail": f"Logged out {count} other device(s).", "count": count}).data
        )


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class ReauthenticateView(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        if is_bearer(request):
            # flows.reauthenticate finds the device session from the cookies;
            # an app gets a fresh auth_time by signing in again.
            raise exceptions.PermissionDenied(
                "Apps confirm the password by signing in again (POST /api/auth/app/login/).",
                code="app_sign_in_required",
            )
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
        return tokens_answer(request, user, pair)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response(
            represent(MeSerializer, {"user": request.user, "access_expires": claims_of(request).expires_at})
        )


class SessionListView(APIView):
    permission_classes = [HasLiveSession]

    def get(self, request: Request) -> Response:
        sessions = LoginSession.objects.active().filter(user_id=token_session(request).user_id)
        context = {"current_sid": claims_of(request).sid}
        return Response(SessionSerializer(sessions, many=True, context=context).data)


class SessionDetailView(APIView):
    permission_classes = [HasLiveSession]

    def delete(self, request: Request, session_id: uuid.UUID) -> Response:
        current = token_session(request)
        session = flows.log_out_device(request._request, current, session_id)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        if session.pk == current.pk:
            clear_auth_cookies(response)
        return response
