"""WebSockets, in process: tokens_app.websocket.TokenAuthMiddleware on the demo consumer.

Driven with Channels' WebsocketCommunicator over the configured channel layer
(in memory on the embedded default, Redis on the server leg). The real
server, across processes: tests/server/test_websocket.py.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.routing import URLRouter
from django.test import Client
from django.urls import path

from authproject.consumers import WhoAmIConsumer
from tests.conftest import login
from tokens_app import flows
from tokens_app.models import LoginSession
from tokens_app.websocket import TokenAuthMiddleware

APPLICATION = TokenAuthMiddleware(URLRouter([path("ws/whoami/", WhoAmIConsumer.as_asgi())]))


class WebsocketCommunicator(ApplicationCommunicator):
    """Channels' own (channels.testing) needs daphne; this is the part we use."""

    def __init__(self, application, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {
            "type": "websocket",
            "path": path,
            "headers": headers,
            "query_string": b"",
            "subprotocols": [],
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = 5) -> tuple[bool, int | None]:
        await self.send_input({"type": "websocket.connect"})
        answer = await self.receive_output(timeout)
        return answer["type"] == "websocket.accept", answer.get("code")

    async def send_json_to(self, data) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def receive_json_from(self, timeout: float = 5):
        return json.loads((await self.receive_output(timeout))["text"])

    async def disconnect(self, code: int = 1000) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(5)


def cookies_of(client: Client, *names: str) -> str:
    return "; ".join(f"{name}={client.cookies[name].value}" for name in names)


@pytest.fixture
def signed_in(transactional_db, alice) -> str:
    client = Client()
    login(client)
    return cookies_of(client, "__Host-access_token", "__Host-refresh_token")


def communicator(cookie: str, *, origin: str = "http://testserver", host: str = "testserver"):
    headers = [(b"host", host.encode()), (b"cookie", cookie.encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(APPLICATION, "/ws/whoami/", headers=headers)


def test_the_cookies_sign_the_socket_in(signed_in):
    async def scenario():
        socket = communicator(signed_in)
        connected, _ = await socket.connect()
        assert connected
        assert await socket.receive_json_from() == {"username": "alice"}
        await socket.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("", "testserver"),
        ("http://evil.example", "testserver"),
        ("http://testserver.evil.example", "testserver"),
        ("null", "testserver"),
        ("http://not-allowed.example", "not-allowed.example"),  # same origin, but not an allowed host
    ],
)
def test_a_foreign_or_missing_origin_is_refused(signed_in, origin, host):
    async def scenario():
        connected, _ = await communicator(signed_in, origin=origin, host=host).connect()
        assert not connected

    async_to_sync(scenario)()


def test_a_csrf_trusted_origin_is_accepted(signed_in, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.com"]

    async def scenario():
        socket = communicator(signed_in, origin="https://app.example.com")
        connected, _ = await socket.connect()
        assert connected
        await socket.disconnect()

    async_to_sync(scenario)()


def test_the_refresh_cookie_alone_signs_in_without_rotating(transactional_db, alice):
    client = Client()
    login(client)
    refresh_only = cookies_of(client, "__Host-refresh_token")
    before = LoginSession.objects.get(user=alice).current_jti

    async def scenario():
        socket = communicator(refresh_only)
        connected, _ = await socket.connect()
        assert connected
        await socket.disconnect()

    async_to_sync(scenario)()
    assert LoginSession.objects.get(user=alice).current_jti == before


@pytest.mark.parametrize("cookie", ["", "__Host-access_token=forged", "__Host-refresh_token=a.b.c"])
def test_without_valid_cookies_the_consumer_refuses(transactional_db, cookie):
    async def scenario():
        connected, _ = await communicator(cookie).connect()
        assert not connected

    async_to_sync(scenario)()


def test_a_revoked_access_token_is_not_rescued_by_the_refresh_cookie(signed_in, alice):
    flows.force_logout([alice])

    async def scenario():
        connected, _ = await communicator(signed_in).connect()
        assert not connected

    async_to_sync(scenario)()


def test_a_force_logout_closes_the_open_socket_with_4401(signed_in, alice):
    async def scenario():
        socket = communicator(signed_in)
        assert (await socket.connect())[0]
        await socket.receive_json_from()

        await sync_to_async(flows.force_logout)([alice])

        assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}

    async_to_sync(scenario)()


def test_ending_another_device_leaves_this_socket_open(signed_in, alice):
    other = Client()
    login(other)
    this_device, other_device = LoginSession.objects.filter(user=alice).order_by("created_at")

    async def scenario():
        socket = communicator(signed_in)
        assert (await socket.connect())[0]
        await socket.receive_json_from()

        await sync_to_async(flows.revocation.revoke_session)(other_device, reason="logout_device")
        await socket.send_json_to("ping")
        assert await socket.receive_json_from(timeout=5) == "pong"

        await sync_to_async(flows.revocation.revoke_session)(this_device, reason="logout_device")
        assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}

    async_to_sync(scenario)()
