"""The default cache's Redis, read on the event loop with redis-py's asyncio client.

An async request whose revocation check misses this worker's memory
(tracking.py) reads its two entries here instead of in a thread: Django's
RedisCache has no async client of its own (its ``aget_many`` runs the sync
client through ``sync_to_async``). This module only reads; writes stay on
Django's cache API, and the values are the digits Django stores for integers.

A redis.asyncio connection belongs to the loop that opened it, so there is
one client per event loop and process (uvicorn runs one loop per worker;
``asyncio.run`` and asgiref's ``async_to_sync`` make one per call), made from
the sync pool's connection settings: the same server, database, credentials
and timeouts. It is closed on its own loop: when the loop shuts down
(``asyncio.run``, and so asgiref and uvicorn, close the loop's async
generators first: the client waits in one), or at its next use after the
cache settings changed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import weakref
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.core.signals import setting_changed

logger = logging.getLogger(__name__)

# The sync pool's connection settings that mean the same to an asyncio
# connection. Left out: the sync parser, retry policy and maintenance-event
# handlers (objects of the sync client), and whatever else a newer redis-py
# adds there, so a new sync-only option cannot break every async read.
_CONNECTION_SETTINGS = frozenset(
    {
        "host",
        "port",
        "path",
        "db",
        "username",
        "password",
        "credential_provider",
        "socket_timeout",
        "socket_connect_timeout",
        "socket_keepalive",
        "socket_keepalive_options",
        "retry_on_timeout",
        "health_check_interval",
        "client_name",
        "protocol",
    }
)


@dataclass
class _Client:
    pid: int
    epoch: int
    # None when the default cache is not Redis: callers read it the sync way.
    redis: Any = None
    make_key: Callable[[str], str] | None = None
    closer: AsyncGenerator[None, None] | None = None

    async def close(self) -> None:
        if self.closer is not None:
            await self.closer.aclose()


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Client] = weakref.WeakKeyDictionary()
# Bumped when the cache settings change; a client made before is replaced.
_epoch = 0


async def aget_ints(keys: Sequence[str]) -> list[int | None] | None:
    """The integer entries at ``keys`` in one MGET on the running loop, None
    for a miss; None instead of a list when the default cache is not Redis.

    Raises what redis-py raises (the caller decides what a failure means).
    """
    client = await _client()
    if client.redis is None or client.make_key is None:
        return None
    make_key = client.make_key
    values = await client.redis.mget([make_key(key) for key in keys])
    return [None if value is None else int(value) for value in values]


async def _client() -> _Client:
    loop = asyncio.get_running_loop()
    pid = os.getpid()
    current = _clients.get(loop)
    if current is not None and current.pid == pid and current.epoch == _epoch:
        return current
    # Stored before any await, so concurrent requests on this loop share it.
    made = _clients[loop] = _made(pid)
    if made.closer is not None:
        # The first step registers the generator with the running loop, which
        # closes it (and so the client) before the loop itself closes.
        await anext(made.closer)
    if current is not None and current.pid == pid:
        await current.close()  # the settings changed (tests): a new client, new connections
    return made


def _made(pid: int) -> _Client:
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        return _Client(pid, _epoch)
    import redis.asyncio
    from redis import connection as sync_connection

    # RedisCache's client (private, undeclared by django-stubs) holds the pool,
    # as tracking.py reads it.
    pool = cache._cache._get_connection_pool(False)  # type: ignore[attr-defined]
    connection_class: type[Any]
    if issubclass(pool.connection_class, sync_connection.UnixDomainSocketConnection):
        connection_class = redis.asyncio.UnixDomainSocketConnection
    elif issubclass(pool.connection_class, sync_connection.SSLConnection):
        connection_class = redis.asyncio.SSLConnection
    else:
        connection_class = redis.asyncio.Connection
    accepted = _CONNECTION_SETTINGS | {
        name for name in inspect.signature(connection_class.__init__).parameters if name.startswith("ssl_")
    }
    kwargs = {name: value for name, value in pool.connection_kwargs.items() if name in accepted}
    client = redis.asyncio.Redis(
        connection_pool=redis.asyncio.ConnectionPool(connection_class=connection_class, **kwargs)
    )
    return _Client(pid, _epoch, client, cache.make_key, _closed_with_its_loop(client))


async def _closed_with_its_loop(client: Any) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        try:
            await client.aclose(close_connection_pool=True)
        except Exception:
            # Its server may be gone (a test stopped it): there is nothing
            # left to close then, and a read must not fail for it.
            logger.debug("closing an asyncio Redis client failed", exc_info=True)


def _cache_settings_changed(*, setting: str, **kwargs: Any) -> None:
    global _epoch
    if setting == "CACHES":
        # Only a loop can close its own connections: each client is closed on
        # its loop, at its next use there or when the loop shuts down.
        _epoch += 1


setting_changed.connect(_cache_settings_changed, dispatch_uid="tokens_app.async_cache")
