"""Cache calls that must not fail a request: quiet writes and the integer read.

Revocation and throttling keep their state in the Django cache, and both treat
a failing cache the same way: the database (revocation) or an open gate
(throttling) answers, and the failure is logged. These helpers are the one
place that says how.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.core.cache import cache

logger = logging.getLogger(__name__)


def quiet_set(key: str, value: Any, timeout: int, *, log: logging.Logger = logger) -> bool:
    """``cache.set``, logged instead of raised if the cache is down; False then."""
    try:
        cache.set(key, value, timeout)
    except Exception:
        log.warning("cache unavailable: could not write %s", key, exc_info=True)
        return False
    return True


def quiet_add(key: str, value: Any, timeout: int, *, log: logging.Logger = logger) -> bool:
    """``cache.add`` (writes only where there is no entry), logged instead of
    raised if the cache is down. True if the value was written."""
    try:
        return bool(cache.add(key, value, timeout))
    except Exception:
        log.warning("cache unavailable: could not write %s", key, exc_info=True)
        return False


def get_ints(keys: Sequence[str]) -> list[int | None]:
    """The integer entries at ``keys`` in one round trip, None for a miss.

    Raises what the cache raises. A backend with a ``get_ints`` of its own
    (authproject/cache.py reads them in one MGET without the pool's checkout)
    answers; any other goes through ``get_many``.
    """
    fast = getattr(cache, "get_ints", None)
    if fast is not None:
        return list(fast(keys))
    found = cache.get_many(keys)
    return [None if found.get(key) is None else int(found[key]) for key in keys]
