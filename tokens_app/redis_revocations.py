"""The site's revocation entries in its Redis, for services verifying its
tokens without Django (verifier.py): answered from memory kept honest by
Redis's reports, as the site's own workers are (local_cache.py).

Imports only the standard library (and redis-py in ``from_url``).
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from .feed_client import RevocationsUnavailable
from .local_cache import LocalRevocationCache, tracking_connector

__all__ = ["RedisRevocations"]


class RedisRevocations:
    """The site's own revocation entries, read from the Redis its cache uses.

    revocation.py writes ``tokens:ver:<user id>`` (the user's token_version)
    and ``tokens:sid:<session id>`` (1 once the device session has ended)
    through Django's cache, which stores integers as their digits under
    ``<KEY_PREFIX>:<VERSION>:<key>``. Pass the site's CACHE ``KEY_PREFIX``
    and ``VERSION`` (1 by default). A missing entry means no revocation was
    written (the site's database would answer; we have none): accepted.

    With ``tracking`` (the default) the answers come from this process's
    memory, kept honest by Redis exactly as the site's own workers are
    (local_cache.py, docs/production.md): one connection per process asks
    Redis to report every change of those keys (``CLIENT TRACKING ... BCAST``,
    Redis 6 or later), and a check reads Redis (one MGET) only for an entry
    it does not hold, or while tracking is not known to work: not yet
    established, dropped, lagging by more than ``max_lag`` seconds, or with a
    report unread. At most ``cache_size`` entries (two per user and device)
    are kept, the least recently used dropped first. The connection and its
    daemon thread are made on the first check in the process that checks
    (after a pre-fork server's fork); ``close()`` ends them. ``client`` must
    then be a redis-py client (its connection pool opens the tracking
    connection). Without tracking, or after ``close()``: one MGET per check.
    A Redis error is ``RevocationsUnavailable`` either way.
    """

    def __init__(
        self,
        client: Any,
        *,
        key_prefix: str = "",
        version: int = 1,
        tracking: bool = True,
        cache_size: int = 10_000,
        max_lag: float = 1.0,
    ) -> None:
        if tracking and not hasattr(client, "connection_pool"):
            raise ValueError("tracking needs a redis-py client (its connection_pool); pass tracking=False.")
        self.client = client
        self.tracking = tracking
        self.cache_size, self.max_lag = cache_size, max_lag
        self._base = f"{key_prefix}:{version}:"
        self._local: LocalRevocationCache | None = None
        self._local_lock = threading.Lock()
        self._closed = False
        self._owns_client = False

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisRevocations:
        import redis  # only services that use this source need redis-py

        source = cls(redis.Redis.from_url(url, socket_timeout=1), **kwargs)
        source._owns_client = True
        return source

    def is_revoked(self, claims: dict[str, Any]) -> bool:
        keys = (f"tokens:ver:{claims['sub']}", f"tokens:sid:{claims['sid']}")
        local = self._tracking_cache()
        generation = None
        if local is not None:
            found = local.read(keys)
            if found is not None:
                return _revoked(claims, None if found[0] == _ABSENT else found[0], found[1])
            # Taken before the read: a report applied between the two makes
            # store() refuse what the read returned.
            generation = local.generation()
        try:
            version_raw, ended_raw = self.client.mget([self._base + key for key in keys])
        except Exception as exc:  # any redis-py error: the state is unknown
            raise RevocationsUnavailable(f"redis: {exc}") from None
        # Kept in the forms the local cache holds (integers), each deciding as
        # the entry it stands for: every negative version refuses alike, and
        # a missing session marker accepts as 0 (live) does.
        version = None if version_raw is None else max(int(version_raw), -1)
        ended = 0 if ended_raw is None else int(bool(int(ended_raw)))
        if local is not None:
            # A missing version is kept as "absent": in BCAST mode Redis
            # reports a key's creation as a change, so a revocation written
            # later drops it like any other entry.
            stored = {keys[0]: _ABSENT if version is None else version, keys[1]: ended}
            local.store(generation, stored, _LOCAL_TIMEOUT)
        return _revoked(claims, version, ended)

    def close(self) -> None:
        """Stop tracking: its thread and connection end (and the client's
        connections, if ``from_url`` made it). Later checks read Redis."""
        with self._local_lock:
            self._closed = True
            local, self._local = self._local, None
        if local is not None:
            local.stop()
        if self._owns_client:
            self.client.connection_pool.disconnect()

    stop = close

    def _tracking_cache(self) -> LocalRevocationCache | None:
        local = self._local
        if local is not None and local.pid == os.getpid():
            return local
        if not self.tracking or self._closed:
            return None
        with self._local_lock:
            if self._closed:
                return None
            if self._local is None or self._local.pid != os.getpid():
                # A process forked from one that checked holds a copy of its
                # parent's cache, with no thread behind it and the parent's
                # socket: never used here (stop() ignores it outside its
                # process); this process opens its own.
                connect = tracking_connector(
                    self.client.connection_pool, self._base, name="tokens-tracking-verifier"
                )
                local = LocalRevocationCache(connect, self._base, size=self.cache_size, max_lag=self.max_lag)
                local.start()
                atexit.register(local.stop)
                self._local = local
            return self._local


# The local cache holds integers: a version the site never writes stands for
# "no entry" (the site's versions count up from 0, and -1 marks an inactive
# user; every version read is clamped to -1 or above before it is stored).
_ABSENT = -2
# Entries are trusted while Redis reports their changes; this only bounds how
# long one outlives a report that tracking failed to deliver undetected.
_LOCAL_TIMEOUT = 3600.0


def _revoked(claims: dict[str, Any], version: int | None, ended: int) -> bool:
    if ended:
        return True
    # Versions only grow: an entry above the token's means a bump since it
    # was issued; one below it is stale (the site repairs it) and proves nothing.
    # -1 is what the site caches for an inactive or deleted user.
    return version is not None and (version > claims["ver"] or version < 0)
