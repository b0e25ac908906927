"""The per-worker LRU behind revocation tracking, its listener thread, and
the connection it listens on.

tracking.py says how it is used and why each rule below keeps a revoked token
from being honoured; this module is the mechanism: the entries, the
generation that refuses a value read before a report, the thread that
applies Redis's reports and sends the heartbeat, and how the tracking
connection is opened. Standard library only, so the site (tracking.py) and
services without Django (verifier.py) share it.
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

logger = logging.getLogger("tokens_app.tracking")

CHANNEL = b"__redis__:invalidate"
TRACKED_PREFIXES = ("tokens:ver:", "tokens:sid:")
_MAX_BACKOFF = 2.0


def tracking_connector(pool: Any, key_base: str, *, name: str = "tokens-tracking") -> Callable[[], Any]:
    """How to open a tracking connection to the Redis of ``pool`` (a redis-py
    ConnectionPool), reporting changes of the keys under ``key_base`` + each
    of TRACKED_PREFIXES; for ``LocalRevocationCache``'s ``connect``.

    Each call opens a new connection, never one of the pool's: made in the
    process that listens (after a fork), and closed by the listener alone.
    """
    # RESP2 and bytes (invalidations arrive as Pub/Sub messages on the
    # redirect connection, compared as bytes in _handle: a decoding client's
    # strings would match nothing and every report would be ignored), no
    # health-check PING of redis-py's own, and a name operators can find.
    client_name = name + ":" + "".join(c for c in key_base if c.isalnum() or c in ":-_")
    kwargs = {
        **pool.connection_kwargs,
        "protocol": 2,
        "decode_responses": False,
        "health_check_interval": 0,
        "client_name": client_name,
    }
    options = [part for prefix in TRACKED_PREFIXES for part in ("PREFIX", key_base + prefix)]

    def connect() -> Any:
        connection = pool.connection_class(**kwargs)
        connection.connect()
        connection.send_command("CLIENT", "ID")
        own_id = connection.read_response()
        connection.send_command("CLIENT", "TRACKING", "on", "REDIRECT", own_id, "BCAST", *options)
        connection.read_response()
        connection.send_command("SUBSCRIBE", CHANNEL)
        connection.read_response()
        return connection

    return connect


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
        atexit.unregister(self.stop)
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
        if kind == b"message" and message[1] == CHANNEL:
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
