"""django-ninja integration: the same tokens as the pages and the DRF API.

    from ninja import NinjaAPI
    from tokens_app.ninja import AsyncBearerAuth, AsyncCookieAuth, CookieAuth, BearerAuth, register

    api = NinjaAPI(auth=[CookieAuth(), BearerAuth()])
    register(api)  # error bodies with a stable "code", as the DRF API's

``CookieAuth`` reads the access cookie (CSRF enforced on unsafe methods, as
DRF's SessionAuthentication does, once the cookie has verified);
``BearerAuth`` an ``Authorization: Bearer`` header (a native app, bearer.py;
no CSRF). A request with both is refused (401 ``mixed_credentials``). The
user is ``request.auth``: a TokenUser, answered from the token. Revocation is
honoured as on every other surface (``TOKENS_IMMEDIATE_REVOCATION``).

The ``Async`` variants are for async operations: ninja awaits them on the
event loop, and at steady state the check needs no I/O and no thread. (Ninja
runs a sync class in a thread for an async operation, and an async one
through ``async_to_sync`` for a sync operation: match the class to the view.)
Needs django-ninja (the ``ninja`` extra); nothing else in the app imports it.
"""

from __future__ import annotations

from collections.abc import Awaitable

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from . import bearer, revocation_check
from .conf import app_settings
from .exceptions import TokenError
from .request_attrs import set_token_claims
from .request_user import averify_current_access, note_cookies_read
from .tokens import Claims
from .users import TokenUser

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class TokenAuthFailed(HttpError):
    """A refusal with the code the DRF API would give (rendered by ``register``)."""

    def __init__(self, status_code: int, message: str, code: str) -> None:
        super().__init__(status_code, message)
        self.code = code

    @classmethod
    def from_error(cls, error: TokenError) -> TokenAuthFailed:
        return cls(401, str(error.message), error.code)


def register(api: NinjaAPI) -> None:
    """Render refusals as ``{"detail", "code"}``, like the DRF API's errors."""

    def refused(request: HttpRequest, exc: TokenAuthFailed) -> HttpResponse:
        return api.create_response(request, {"detail": exc.message, "code": exc.code}, status=exc.status_code)

    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        body = {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"}
        return api.create_response(request, body, status=exc.status_code)

    # ninja.main.ExcHandler types a handler's exception as "the instance or its
    # class"; ninja only ever passes the instance (NinjaAPI.on_exception).
    api.add_exception_handler(TokenAuthFailed, refused)  # type: ignore[arg-type]
    api.add_exception_handler(AuthenticationError, unauthenticated)  # type: ignore[arg-type]


def _refuse_mixed(request: HttpRequest) -> None:
    try:
        bearer.refuse_mixed(request)
    except bearer.MixedCredentials as error:
        raise TokenAuthFailed.from_error(error) from None


def _claims(raw: str) -> Claims:
    try:
        return revocation_check.verify_current_access(raw)
    except TokenError as error:
        raise TokenAuthFailed.from_error(error) from error


async def _aclaims(raw: str) -> Claims:
    try:
        return await averify_current_access(raw)
    except TokenError as error:
        raise TokenAuthFailed.from_error(error) from error


def _user(request: HttpRequest, claims: Claims) -> TokenUser:
    set_token_claims(request, claims)

    def revoked(error: TokenError) -> None:
        raise TokenAuthFailed.from_error(error)

    return TokenUser(claims, on_revoked=revoked)


class CookieAuth(APIKeyCookie):
    """The access cookie; CSRF on unsafe methods."""

    def __init__(self, csrf: bool = True) -> None:
        self.param_name = app_settings.ACCESS_COOKIE  # named in the OpenAPI schema too
        super().__init__(csrf=csrf)

    def _get_key(self, request: HttpRequest) -> str | None:
        # CSRF is checked after the cookie verifies (authenticate), as DRF
        # does: an anonymous request gets its 401, not a CSRF 403.
        _refuse_mixed(request)
        return request.COOKIES.get(app_settings.ACCESS_COOKIE)

    def authenticate(self, request: HttpRequest, key: str | None) -> TokenUser | None:
        if not key:
            return None
        note_cookies_read(request)
        claims = _claims(key)
        self._enforce_csrf(request)
        return _user(request, claims)

    def _enforce_csrf(self, request: HttpRequest) -> None:
        if not self.csrf or request.method in _SAFE_METHODS or getattr(request, "_ninja_csrf_exempt", False):
            return
        if check_csrf(request) is not None:
            raise TokenAuthFailed(403, "CSRF check failed.", "permission_denied")


class AsyncCookieAuth(CookieAuth):
    """CookieAuth for async operations: no thread at steady state."""

    # ninja awaits an auth class's coroutine; its base class declares a sync method.
    async def authenticate(self, request: HttpRequest, key: str | None) -> TokenUser | None:  # type: ignore[override]
        if not key:
            return None
        note_cookies_read(request)
        claims = await _aclaims(key)
        self._enforce_csrf(request)
        return _user(request, claims)


class BearerAuth(HttpBearer):
    """``Authorization: Bearer <access>`` (a native app); no CSRF."""

    # A coroutine from AsyncBearerAuth, which ninja awaits.
    def __call__(self, request: HttpRequest) -> TokenUser | Awaitable[TokenUser] | None:
        try:
            raw = bearer.bearer_token(request)
        except TokenError as error:
            raise TokenAuthFailed.from_error(error) from error
        if raw is None:
            return None
        _refuse_mixed(request)
        return self.authenticate(request, raw)

    def authenticate(self, request: HttpRequest, token: str) -> TokenUser:
        return _user(request, _claims(token))


class AsyncBearerAuth(BearerAuth):
    """BearerAuth for async operations: no thread at steady state."""

    # As AsyncCookieAuth.authenticate: a coroutine where the base is sync.
    async def authenticate(self, request: HttpRequest, token: str) -> TokenUser:  # type: ignore[override]
        return _user(request, await _aclaims(token))
