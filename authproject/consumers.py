"""The demo site's WebSocket: who am I, and pong to ping (docs/integrations.md)."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class WhoAmIConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close()  # before accept: the handshake is refused (403)
            return
        await self.accept()
        await self.send_json({"username": user.get_username()})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if content == "ping":
            await self.send_json("pong")
