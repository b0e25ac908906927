"""WebSockets (Django Channels) signed in with the same cookies, closed when the session ends.

Wrap your WebSocket router::

    application = ProtocolTypeRouter({
        "http": django_asgi_app,
        "websocket": TokenAuthMiddleware(URLRouter(websocket_urlpatterns)),
    })

At the handshake, the ``Origin`` must be this site (the ``Host`` the socket
was opened on, itself in ALLOWED_HOSTS) or one of CSRF_TRUSTED_ORIGINS;
otherwise the handshake is refused (403) before anything else. Then the
access cookie, or the refresh cookie when the access token has expired (it is
checked, not rotated: a handshake cannot reliably set cookies), must name a
live device session at the user's token_version: one query per connection.
``scope["user"]`` is that user (AnonymousUser otherwise, for the consumer to
refuse) and ``scope["token_claims"]`` the token's claims.

While the socket is open it listens on the channel layer to the groups of its
user and of its device session. ``bump_token_version`` and ``revoke_session``
(through signals.tokens_revoked / session_revoked, after their commit) send
there, so a force logout, a password change, "log out everywhere" or an ended
device closes the sockets concerned on every server sharing the layer
(channels_redis; the in-memory layer reaches one process), with close code
TOKENS_WEBSOCKET_CLOSE_CODE (4401), and the consumer receives
``websocket.disconnect`` with that code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

from . import flows, revocation_check
from .conf import app_settings
from .exceptions import TokenError, TokenExpired
from .signals import session_revoked, tokens_revoked
from .tokens import Claims, verify_refresh

logger = logging.getLogger(__name__)

REVOKED = "tokens.revoked"  # the channel-layer message type


def user_group(user_id: object) -> str:
    return f"tokens.user.{user_id}"


def session_group(session_id: object) -> str:
    return f"tokens.session.{session_id}"


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def origin_allowed(scope: dict[str, Any]) -> bool:
    """The Origin is this site (as Django's CSRF check sees it) or a trusted origin."""
    origin = _header(scope, b"origin")
    if not origin:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    host = _header(scope, b"host") or ""
    domain, _port = split_domain_port(host)
    if parts.netloc == host and domain and validate_host(domain, settings.ALLOWED_HOSTS):
        return True
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        pattern = urlsplit(trusted)
        if pattern.scheme == parts.scheme and (
            pattern.netloc == parts.netloc
            or (pattern.netloc.startswith("*") and is_same_domain(parts.netloc, pattern.netloc[1:]))
        ):
            return True
    return False


def authenticate(cookie_header: str | None) -> tuple[Any, Claims] | None:
    """The user and claims the cookies prove now, or None. One query."""
    cookies = parse_cookie(cookie_header or "")
    claims = None
    try:
        claims = revocation_check.verify_current_access(cookies.get(app_settings.ACCESS_COOKIE))
    except TokenExpired:
        pass
    except TokenError:
        if cookies.get(app_settings.ACCESS_COOKIE):
            return None  # a forged or revoked access token: not rescued by the refresh cookie
    if claims is None:
        try:
            claims = verify_refresh(cookies.get(app_settings.REFRESH_COOKIE))
        except TokenError:
            return None
    session = flows.live_session(claims)
    if session is None or (claims.typ == "refresh" and session.current_jti != claims.jti):
        return None
    return session.user, claims


class TokenAuthMiddleware:
    """ASGI middleware for Channels WebSockets: see the module docstring."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        if not origin_allowed(scope):
            logger.info(
                "websocket refused: origin=%r host=%r", _header(scope, b"origin"), _header(scope, b"host")
            )
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            return None
        found = await database_sync_to_async(authenticate)(_header(scope, b"cookie"))
        user, claims = found if found else (AnonymousUser(), None)
        scope = {**scope, "user": user, "token_claims": claims}
        layer = get_channel_layer()
        if claims is None or layer is None:
            return await self.inner(scope, receive, send)
        return await _WatchedSocket(layer, claims).run(self.inner, scope, receive, send)


class _WatchedSocket:
    """One open socket, closed from the channel layer when its session ends."""

    def __init__(self, layer: Any, claims: Claims) -> None:
        self.layer, self.claims = layer, claims
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed = False
        self.groups = (user_group(claims.sub), session_group(claims.sid))

    async def run(self, inner: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
        channel = await self.layer.new_channel()
        for group in self.groups:
            await self.layer.group_add(group, channel)

        async def guarded_send(message: dict[str, Any]) -> None:
            if self.closed:
                return  # we closed it: the consumer's late sends go nowhere
            if message["type"] == "websocket.close":
                self.closed = True
            await send(message)

        async def pump() -> None:
            while True:
                message = await receive()
                await self.incoming.put(message)
                if message["type"] == "websocket.disconnect":
                    return

        async def watch() -> None:
            while True:
                try:
                    message = await self.layer.receive(channel)
                except Exception:
                    # A layer hiccup must not leave the socket unwatched.
                    logger.warning("channel layer receive failed; retrying", exc_info=True)
                    await asyncio.sleep(0.5)
                    continue
                if message.get("type") == REVOKED and self._ends_us(message):
                    code = app_settings.WEBSOCKET_CLOSE_CODE
                    logger.info(
                        "websocket closed: session ended sid=%s user_id=%s", self.claims.sid, self.claims.sub
                    )
                    await guarded_send({"type": "websocket.close", "code": code})
                    await self.incoming.put({"type": "websocket.disconnect", "code": code})
                    return

        tasks = [asyncio.ensure_future(pump()), asyncio.ensure_future(watch())]
        try:
            await inner(scope, self.incoming.get, guarded_send)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for group in self.groups:
                with contextlib.suppress(Exception):
                    await self.layer.group_discard(group, channel)

    def _ends_us(self, message: dict[str, Any]) -> bool:
        version = message.get("version")
        # A bump ends tokens of older versions: a socket opened after it stays.
        return version is None or self.claims.ver < version


def _fan_out(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        # The revocation has committed; a socket missed here still ends at
        # its next reconnect, which checks the session.
        logger.warning("could not notify websockets in %s", group, exc_info=True)


# on_commit: at once in autocommit, else once the caller's transaction (the
# admin's change form, say) commits, so a reconnect never sees the old state.
def _user_revoked(sender: type, user: AbstractBaseUser, version: int, **kwargs: Any) -> None:
    group = user_group(user.pk)
    transaction.on_commit(lambda: _fan_out(group, {"type": REVOKED, "version": version}))


def _session_ended(sender: Any, session: Any, **kwargs: Any) -> None:
    group = session_group(session.pk)
    transaction.on_commit(lambda: _fan_out(group, {"type": REVOKED}))


def connect_receivers() -> None:
    """Called by apps.ready() when CHANNEL_LAYERS is configured."""
    tokens_revoked.connect(_user_revoked, dispatch_uid="tokens_app.websocket.user")
    session_revoked.connect(_session_ended, dispatch_uid="tokens_app.websocket.session")
