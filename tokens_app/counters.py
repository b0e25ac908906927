"""Windowed counters in the Django cache: the mechanism behind throttling.py.

A counter per (scope, identity): the first hit creates it with ``cache.add``
and an expiry of one window, later hits ``cache.incr`` it (both atomic on
Redis). The window starts at the first hit, so a limit cannot be doubled by
straddling a clock boundary. A failing cache opens the gate (logged):
throttling must not take logins down with it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache

from . import caching
from .conf import app_settings

logger = logging.getLogger("tokens_app.throttling")


class RateLimited(Exception):
    """Refused without looking further; ``retry_after`` is in whole seconds."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(scope, retry_after)
        self.scope = scope
        self.retry_after = retry_after


def _seconds(window: timedelta | float) -> int:
    if isinstance(window, timedelta):
        window = window.total_seconds()
    return max(1, math.ceil(window))


@dataclass(frozen=True)
class Counter:
    scope: str
    identity: str
    limit: int
    window: int  # seconds

    @classmethod
    def for_rate(cls, scope: str, identity: str, rate: tuple[int, timedelta | float]) -> Counter:
        limit, window = rate
        return cls(scope, identity, int(limit), _seconds(window))

    @property
    def key(self) -> str:
        # Hashed: usernames and addresses may hold anything, cache keys may not.
        digest = hashlib.sha256(f"{self.scope}\0{self.identity}".encode()).hexdigest()[:40]
        return f"tokens:throttle:{self.scope}:{digest}"

    @property
    def _started_key(self) -> str:
        return f"{self.key}:t"

    def retry_after(self, *, now: float | None = None) -> int | None:
        """Seconds until this identity may try again, or None if it may now."""
        now = time.time() if now is None else now
        try:
            # Every refresh asks this: read the count alone, with the cache's
            # fast integer read; the window's start is read only for a client
            # over the limit.
            if (caching.get_ints([self.key])[0] or 0) < self.limit:
                return None
            started = cache.get(self._started_key, now)
        except Exception:
            logger.exception("throttle cache unavailable, scope=%s not enforced", self.scope)
            return None
        return max(1, math.ceil(started + self.window - now))

    def hit(self, *, now: float | None = None) -> int:
        """Count one event; returns the count in this window (0 if the cache failed)."""
        now = time.time() if now is None else now
        try:
            if cache.add(self.key, 0, timeout=self.window):
                cache.set(self._started_key, now, timeout=self.window)
            try:
                return cache.incr(self.key)
            except ValueError:  # expired between add and incr: a new window
                cache.set(self.key, 1, timeout=self.window)
                cache.set(self._started_key, now, timeout=self.window)
                return 1
        except Exception:
            logger.exception("throttle cache unavailable, scope=%s not counted", self.scope)
            return 0

    def give_back(self) -> None:
        """Undo one ``hit`` of this window (nothing if the window has ended)."""
        try:
            cache.decr(self.key)
        except ValueError:  # expired meanwhile: nothing left to give back
            pass
        except Exception:
            logger.exception("throttle cache unavailable, scope=%s not given back", self.scope)

    def reset(self) -> None:
        try:
            cache.delete_many([self.key, self._started_key])
        except Exception:
            logger.exception("throttle cache unavailable, scope=%s not reset", self.scope)


@dataclass(frozen=True)
class Slot:
    """One attempt's place in a counter: the count it made (0: the cache failed)."""

    counter: Counter
    count: int

    @property
    def reached_limit(self) -> bool:
        return self.count == self.counter.limit


def take(*counters: Counter) -> list[Slot]:
    """Reserve one attempt in each counter before the attempt is made.

    The increment is the check: parallel requests each get their own count
    from the cache, so no two can take the last slot. Over any limit, every
    slot taken is given back and RateLimited is raised.
    """
    if not app_settings.THROTTLE_ENABLED:
        return []
    slots = [Slot(counter, counter.hit()) for counter in counters]
    over = [slot.counter for slot in slots if slot.count > slot.counter.limit]
    if not over:
        return slots
    for slot in slots:
        if slot.count:
            slot.counter.give_back()
    wait, scope = max(((counter.retry_after() or 1), counter.scope) for counter in over)
    logger.info("throttled scope=%s retry_after=%d", scope, wait)
    raise RateLimited(scope, wait)


def refuse_if_over(*counters: Counter) -> None:
    """Raise RateLimited if any counter is at its limit (nothing is counted)."""
    if not app_settings.THROTTLE_ENABLED:
        return
    waits = [(wait, c.scope) for c in counters if (wait := c.retry_after()) is not None]
    if waits:
        wait, scope = max(waits)
        logger.info("throttled scope=%s retry_after=%d", scope, wait)
        raise RateLimited(scope, wait)
