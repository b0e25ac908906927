"""Each worker's local copy of the revocation state, kept honest by Redis.

With immediate revocation on, every request asks whether the user's sessions
(``tokens:ver:<user>``) or its device (``tokens:sid:<session>``) have ended.
Redis can tell a client when keys it cares about change (``CLIENT TRACKING``):
one connection per worker process asks for ``BCAST`` reports on those two
key prefixes, redirected to itself and subscribed to ``__redis__:invalidate``
(the RESP2 way, which Redis 7.0 supports). The worker then answers from a
local LRU and drops an entry the moment Redis reports that its key changed,
expired, was evicted or flushed.

The local copy is trusted only while tracking is known to work:
- the connection is up and subscribed (``_live``); when it drops, every entry
  is dropped at once and requests read Redis again until it is re-established;
- a heartbeat PING, answered in order after any invalidation sent before it,
  came back within ``TOKENS_TRACKING_MAX_LAG``; a lagging connection is
  dropped and re-made like a broken one;
- no report is waiting to be read: a reader polls the connection's socket
  (a system call, no Redis command) and treats unread data as a miss, so an
  invalidation is obeyed as soon as it reaches this host, not when the
  listener thread next gets the GIL.
A revocation's write-through ends with one more round trip (``published``).
Redis sends BCAST reports in the same pass over its connections as its answer
to the write, but not always first: when a listener's connection already has
output queued (a heartbeat answer), the writer's answer can leave a moment
earlier, and a request that starts right then finds no report at the socket
yet. The next answer leaves in a later pass, after every report of the write,
so when a revocation returns each listener's report is on its way.
Values are stored with the generation read before the Redis round trip that
produced them: any invalidation, flush or reconnect in between bumps the
generation and the store is refused, so a value read before a change is never
stored after it.

Connections are made lazily in the process that uses them (after gunicorn's
fork); the listener is a daemon thread, stopped at interpreter exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed

from .conf import app_settings
from .local_cache import TRACKED_PREFIXES, LocalRevocationCache, tracking_connector

logger = logging.getLogger(__name__)


def _redis_connector(cache: Any, key_base: str) -> Callable[[], Any] | None:
    """How to open the tracking connection for ``cache``, or None if it is not Redis."""
    from django.core.cache.backends.redis import RedisCache

    if not isinstance(cache, RedisCache):
        return None
    # RedisCache's client (private, undeclared by django-stubs) holds the pool.
    pool = cache._cache._get_connection_pool(True)  # type: ignore[attr-defined]
    return tracking_connector(pool, key_base)


_current: tuple[Any, LocalRevocationCache | None] | None = None
_create_lock = threading.Lock()


def local_cache() -> LocalRevocationCache | None:
    """This process's local revocation cache, started on first use; None when
    tracking is off or the default cache is not Redis."""
    if not app_settings.REVOCATION_TRACKING:
        return None
    config = settings.CACHES.get("default")
    current = _current
    if current is not None and current[0] is config:
        local = current[1]
        if local is None or local.pid == os.getpid():
            return local
    with _create_lock:
        return _create(config)


def _create(config: Any) -> LocalRevocationCache | None:
    global _current
    if _current is not None and _current[0] is config:
        local = _current[1]
        if local is None or local.pid == os.getpid():
            return local
    if _current is not None and _current[1] is not None and _current[1].pid == os.getpid():
        _current[1].stop()  # the settings changed (tests): a new cache, a new connection
    cache = caches["default"]
    base = cache.make_key("")
    connect = _redis_connector(cache, base)
    local = None
    if connect is not None and cache.make_key(TRACKED_PREFIXES[0]) == base + TRACKED_PREFIXES[0]:
        local = LocalRevocationCache(
            connect, base, size=app_settings.TRACKING_CACHE_SIZE, max_lag=app_settings.TRACKING_MAX_LAG
        )
        local.start()
        atexit.register(local.stop)
    _current = (config, local)
    return local


def published(keys: Sequence[str], *, written: bool = True) -> None:
    """Call after writing ``keys`` to the shared cache (a revocation): this
    process's copies are dropped, and on return Redis has sent its reports of
    the write to every listener (the module's docstring says why). A write
    that failed (``written=False``) sent nothing to wait for. The round trip
    is made even where this site does not track: other services may
    (verifier.RedisRevocations)."""
    local = local_cache()
    if local is not None:
        local.forget(keys)
    from django.core.cache.backends.redis import RedisCache

    if not written or not isinstance(caches["default"], RedisCache):
        return
    try:
        caches["default"].get(keys[0])
    except Exception:
        # The write went through (or was logged as lost); its reports are
        # sent whether or not this answer arrives.
        logger.debug("no answer after publishing %s", keys[0], exc_info=True)


def stop() -> None:
    """Stop this process's listener (tests, and interpreter exit)."""
    global _current
    with _create_lock:
        if _current is not None and _current[1] is not None and _current[1].pid == os.getpid():
            _current[1].stop()
        _current = None


def _cache_settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (
        "CACHES",
        "TOKENS_REVOCATION_TRACKING",
        "TOKENS_TRACKING_MAX_LAG",
        "TOKENS_TRACKING_CACHE_SIZE",
    ):
        stop()


# Connected here rather than in apps.ready(): it only matters once this module
# is in use, and it keeps a test's override_settings(CACHES=...) from leaving
# a listener behind that retries a server the test has stopped.
setting_changed.connect(_cache_settings_changed, dispatch_uid="tokens_app.tracking")
