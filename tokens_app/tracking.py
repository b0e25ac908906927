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
import select
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed

from .conf import app_settings

logger = logging.getLogger(__name__)

TRACKED_PREFIXES = ("tokens:ver:", "tokens:sid:")
_CHANNEL = b"__redis__:invalidate"
_MAX_BACKOFF = 2.0


class LocalRevocationCache:
    """Versions and session markers this worker has read, while Redis reports changes."""

    def __init__(self, connect: Callable[[], Any], key_base: str, *, size: int, max_lag: float) -> None:
        self._connect_redis = connect
        self._base = key_base
        self.size = size
        self.max_lag = max_lag
        self.pid = os.getpid()
        self._entries: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0
        self._live = False
        self._busy = False
        self._fresh_until = 0.0
        self._fd = -1
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="tokens-revocation-tracking", daemon=True)

    # Readers --------------------------------------------------------------

    def read(self, keys: Sequence[str]) -> list[int] | None:
        """The local values of ``keys``, or None unless all are held and trusted."""
        now = time.monotonic()
        with self._lock:
            found = []
            for key in keys:
                entry = self._entries.get(key)
                if entry is None or entry[1] < now:
                    return None
                self._entries.move_to_end(key)
                found.append(entry[0])
            generation = self._generation
        # In this order, after the lookup: a report that reached this host by
        # now is unread (pending), or read and not yet applied (busy), or
        # applied since the lookup (a new generation), or was applied before
        # it (no entry).
        if self._pending() or not self._trusted(now) or self._generation != generation:
            return None
        return found

    def generation(self) -> int | None:
        """A token for ``store``, taken before the read whose result is stored."""
        return self._generation if self._trusted(time.monotonic()) else None

    def store(self, generation: int | None, values: dict[str, int], timeout: float) -> None:
        """Keep ``values`` unless anything changed since ``generation`` was taken."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if generation is None or generation != self._generation or not self._live:
                return
            for key, value in values.items():
                self._entries[key] = (value, deadline)
                self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, keys: Sequence[str]) -> None:
        """Drop ``keys`` now: this process wrote them (Redis reports it too)."""
        with self._lock:
            self._generation += 1
            for key in keys:
                self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def live(self) -> bool:
        return self._trusted(time.monotonic())

    def _trusted(self, now: float) -> bool:
        return self._live and not self._busy and now <= self._fresh_until

    def _pending(self) -> bool:
        poller = select.poll()
        fd = self._fd
        if fd < 0:
            return True
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))

    # Lifecycle ------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the listener and close its connection; safe to call twice."""
        if self._stop.is_set() or os.getpid() != self.pid:
            return  # a forked child must not stop (or wake) its parent's listener
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        os.close(self._wake_r)
        os.close(self._wake_w)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # Listener thread ------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                connection = self._connect_redis()
            except Exception as exc:
                # Once per outage: the retries that follow would flood the log.
                log = logger.warning if backoff == 0.05 else logger.debug
                log("revocation tracking unavailable (%s), retrying", exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            self._go_live(connection)
            backoff = 0.05
            try:
                self._listen(connection)
            except Exception as exc:
                if not self._stop.is_set():
                    logger.warning(
                        "revocation tracking lost (%s): reading from the cache until it is back", exc
                    )
            finally:
                self._go_dark()
                connection.disconnect()
            self._stop.wait(backoff)

    def _go_live(self, connection: Any) -> None:
        with self._lock:
            # Whatever was read before tracking (re)started may have changed
            # unreported: start empty.
            self._entries.clear()
            self._generation += 1
            self._fd = connection._sock.fileno()
            self._fresh_until = time.monotonic() + self.max_lag
            self._live = True
        logger.info("revocation tracking established pid=%d", self.pid)

    def _go_dark(self) -> None:
        with self._lock:
            self._live = False
            self._fd = -1
            self._entries.clear()
            self._generation += 1

    def _listen(self, connection: Any) -> None:
        poller = select.poll()
        poller.register(connection._sock.fileno(), select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        ping_sent: float | None = None
        next_ping = time.monotonic() + self.max_lag / 3
        while not self._stop.is_set():
            now = time.monotonic()
            if ping_sent is not None and now - ping_sent > self.max_lag:
                raise TimeoutError(f"no heartbeat answer within {self.max_lag}s")
            if ping_sent is None and now >= next_ping:
                connection.send_command("PING")
                ping_sent = now
            wait = (ping_sent + self.max_lag if ping_sent is not None else next_ping) - now
            if not poller.poll(max(1, int(wait * 1000) + 1)) or self._stop.is_set():
                continue
            self._busy = True
            try:
                while True:
                    if self._handle(connection.read_response()) and ping_sent is not None:
                        self._fresh_until = ping_sent + self.max_lag
                        ping_sent, next_ping = None, time.monotonic() + self.max_lag / 3
                    if not connection.can_read(0):
                        break
            finally:
                self._busy = False

    def _handle(self, message: Any) -> bool:
        """Apply one message; True if it is the heartbeat's answer."""
        kind = message[0] if isinstance(message, list) and message else None
        if kind == b"pong":
            return True
        if kind == b"message" and message[1] == _CHANNEL:
            keys = message[2]
            with self._lock:
                self._generation += 1
                if keys is None:  # FLUSHDB / FLUSHALL
                    self._entries.clear()
                else:
                    for key in keys:
                        raw = key.decode() if isinstance(key, bytes) else str(key)
                        if raw.startswith(self._base):
                            self._entries.pop(raw[len(self._base) :], None)
        return False


def _redis_connector(cache: Any, key_base: str) -> Callable[[], Any] | None:
    """How to open the tracking connection for ``cache``, or None if it is not Redis."""
    from django.core.cache.backends.redis import RedisCache

    if not isinstance(cache, RedisCache):
        return None
    pool = cache._cache._get_connection_pool(True)
    # RESP2 (invalidations as Pub/Sub messages on the redirect connection),
    # no health-check PING of redis-py's own, and a name operators can find.
    name = "tokens-tracking:" + "".join(c for c in key_base if c.isalnum() or c in ":-_")
    kwargs = {**pool.connection_kwargs, "protocol": 2, "health_check_interval": 0, "client_name": name}
    prefixes = [cache.make_key(prefix) for prefix in TRACKED_PREFIXES]

    def connect() -> Any:
        connection = pool.connection_class(**kwargs)
        connection.connect()
        connection.send_command("CLIENT", "ID")
        own_id = connection.read_response()
        options = [part for prefix in prefixes for part in ("PREFIX", prefix)]
        connection.send_command("CLIENT", "TRACKING", "on", "REDIRECT", own_id, "BCAST", *options)
        connection.read_response()
        connection.send_command("SUBSCRIBE", _CHANNEL)
        connection.read_response()
        return connection

    return connect


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
