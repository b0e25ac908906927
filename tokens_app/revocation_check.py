"""Whether an access token may still be honoured: the cached view of the
revocation state that revocation.py writes.

With immediate revocation on, ``ensure_not_revoked`` answers each request
from this worker's memory (tracking.py) or one cache round trip, and no SQL
at steady state; the database answers what the cache does not know, and
whatever it answers is written back. The key names and the write-through
live here too, so the writer (revocation.py) and the reader agree on them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from . import async_cache, caching, tracking, versions
from .conf import app_settings
from .exceptions import TokenRevoked
from .models import LoginSession
from .tokens import Claims, verify_access

if TYPE_CHECKING:
    from .local_cache import LocalRevocationCache

# The name these checks have always logged under (log filters rely on it).
logger = logging.getLogger("tokens_app.revocation")


def version_key(user_id: object) -> str:
    return f"tokens:ver:{user_id}"


def session_key(session_id: object) -> str:
    return f"tokens:sid:{session_id}"


def write_through(key: str, value: int, timeout: int) -> None:
    """Write a committed revocation to the cache, for every worker to see."""
    # The database stays the truth; a missed write-through only means the old
    # entry lives until it times out (VERSION_CACHE_TIMEOUT).
    written = caching.quiet_set(key, value, timeout, log=logger)
    tracking.published([key], written=written)


def _fill(key: str, value: int, timeout: int) -> None:
    """Cache a value read from the database unless a write-through got there
    first: a read that raced a bump must not overwrite the newer version."""
    caching.quiet_add(key, value, timeout, log=logger)


def verify_current_access(raw: str | None) -> Claims:
    """The claims of an access token that may be honoured now: validly signed
    and unexpired (no database), and, with immediate revocation on, not ended
    since it was issued. The one check behind the middleware and the API."""
    claims = verify_access(raw)
    if app_settings.IMMEDIATE_REVOCATION:
        ensure_not_revoked(claims)
    return claims


def ensure_not_revoked(claims: Claims) -> None:
    """Raise TokenRevoked if the user's sessions, or this device's, have ended.

    With Redis, answered from this worker's memory at steady state
    (tracking.py: Redis reports every change of the entries it holds), else
    one cache round trip. On a miss (a first request, an eviction, a flushed
    cache) the database answers in one query and the answer is cached: a
    missing entry never reads as "still active", so a device ended before a
    flush stays ended. If the cache is down the database answers (slower,
    still right).
    """
    keys = (version_key(claims.sub), session_key(claims.sid))
    local = tracking.local_cache()
    if local is not None and _answered_locally(claims, local.read(keys)):
        return
    generation = None if local is None else local.generation()
    _decide(claims, keys, local, generation, _shared_state(claims, keys))


async def aensure_not_revoked(claims: Claims) -> None:
    """``ensure_not_revoked`` for async code: the same answers and errors.

    A local answer (tracking.py) costs no thread hop, and with Redis neither
    does a miss: the two entries are read with redis-py's asyncio client on
    the event loop (async_cache.py). What needs the database (an entry
    missing in Redis, a stale version, Redis down), or a cache that is not
    Redis, runs the sync code in a worker thread.
    """
    keys = (version_key(claims.sub), session_key(claims.sid))
    local = tracking.local_cache()
    if local is not None and _answered_locally(claims, local.read(keys)):
        return
    generation = None if local is None else local.generation()
    try:
        found = await async_cache.aget_ints(keys)
    except Exception:
        logger.warning("cache unavailable: checking token_version in the database", exc_info=True)
        state = await sync_to_async(_database_state)(claims)
    else:
        if found is None:
            await sync_to_async(ensure_not_revoked)(claims)
            return
        version, marker = found
        ended = None if marker is None else bool(marker)
        if version is not None and ended is not None and version >= claims.ver:
            state = version, ended, True
        else:
            # The sync path's rules, from the values just read: no second read.
            state = await sync_to_async(_filled)(claims, keys, version, ended)
    _decide(claims, keys, local, generation, state)


def _decide(
    claims: Claims,
    keys: tuple[str, str],
    local: LocalRevocationCache | None,
    generation: int | None,
    state: tuple[int | None, bool, bool],
) -> None:
    """Raise for a token that may not be honoured; else keep the shared
    cache's answer locally (refused if anything changed since ``generation``)."""
    version, session_ended, from_cache = state
    if session_ended or version != claims.ver:
        raise TokenRevoked()
    if local is not None and from_cache:
        local.store(generation, {keys[0]: version, keys[1]: 0}, app_settings.VERSION_CACHE_TIMEOUT)


def _answered_locally(claims: Claims, found: list[int] | None) -> bool:
    """True if the local entries say the token is honoured; raises if they say
    it is not. False (ask the shared cache) for a miss, or for a version below
    the token's: stale, to be repaired by ``_shared_state``."""
    if found is None:
        return False
    version, session_ended = found
    if session_ended or version > claims.ver:
        raise TokenRevoked()
    return version == claims.ver


def _shared_state(claims: Claims, keys: tuple[str, str]) -> tuple[int | None, bool, bool]:
    """The version and whether the session has ended, from the shared cache
    (filled from the database where it misses); the last item says whether
    the cache answered (else the database did, the cache being down)."""
    try:
        version, session_ended = _read_cache(keys)
    except Exception:
        logger.warning("cache unavailable: checking token_version in the database", exc_info=True)
        return _database_state(claims)
    return _filled(claims, keys, version, session_ended)


def _database_state(claims: Claims) -> tuple[int | None, bool, bool]:
    version, session_ended = _read_database(claims)
    return version, session_ended, False


def _filled(
    claims: Claims, keys: tuple[str, str], version: int | None, session_ended: bool | None
) -> tuple[int | None, bool, bool]:
    """``_shared_state`` after the cache answered ``version`` and
    ``session_ended``: what is missing or stale is read from the database
    and written back."""
    if version is None and session_ended is None:
        version, session_ended = _read_database(claims)
        if version is not None:
            _fill(keys[0], version, app_settings.VERSION_CACHE_TIMEOUT)
        _fill(keys[1], int(session_ended), marker_timeout(ended=session_ended))
        return version, session_ended, True
    if session_ended is None:
        session_ended = _database_session_ended(claims)
        # add, not set: a revocation that committed after our read
        # has written "ended" already; "live" must not overwrite it.
        _fill(keys[1], int(session_ended), marker_timeout(ended=session_ended))
    if version is None:
        version = _database_version(claims.sub)
        # add, not set: a bump that committed after our read has
        # written the newer version already; ours must not overwrite it.
        _fill(keys[0], version, app_settings.VERSION_CACHE_TIMEOUT)
    elif version < claims.ver:
        # Versions only grow, so an entry below a version we signed
        # is stale: a write-through lost to a cache outage, or
        # overtaken by a concurrent bump's. Ask the database and
        # repair the entry, rather than sign out every fresh session
        # until it expires.
        version = _database_version(claims.sub)
        write_through(keys[0], version, app_settings.VERSION_CACHE_TIMEOUT)
    return version, session_ended, True


def marker_timeout(*, ended: bool) -> int:
    # "Ended" need only outlive the access tokens the session issued;
    # "live" is trusted as long as a cached version is (a per-process cache
    # cannot be written through for the other workers).
    if ended:
        return int(app_settings.ACCESS_LIFETIME.total_seconds()) + 60
    return app_settings.VERSION_CACHE_TIMEOUT


def _read_cache(keys: tuple[str, str]) -> tuple[int | None, bool | None]:
    """The cached version and whether the session has ended: None for a miss.

    The session marker is 1 for ended, 0 for live. Our RedisCache reads both
    integers in one MGET with half the CPU of ``get_many``
    (authproject/cache.py); the values are the ones ``set`` and ``add``
    wrote, so writes keep going through Django's cache API.
    """
    version, ended = caching.get_ints(keys)
    return version, None if ended is None else bool(ended)


def _database_version(user_id: str) -> int:
    """The user's token_version, or -1 (matches no token) if they are gone or inactive."""
    User = get_user_model()
    version = (
        User._default_manager.filter(pk=user_id, is_active=True)
        .values_list(versions.expression(), flat=True)
        .first()
    )
    return -1 if version is None else version


def _database_session_ended(claims: Claims) -> bool:
    """Whether the device session is revoked or gone (its row deleted)."""
    return not LoginSession.objects.filter(
        pk=claims.sid, user_id=claims.sub, revoked_at__isnull=True
    ).exists()


def _read_database(claims: Claims) -> tuple[int | None, bool]:
    """The version and whether the session has ended, in one query. The
    version is None when the session row is gone (it then does not matter)."""
    row = (
        LoginSession.objects.filter(pk=claims.sid, user_id=claims.sub)
        .values_list("revoked_at", versions.expression("user"), "user__is_active")
        .first()
    )
    if row is None:
        return None, True
    revoked_at, version, is_active = row
    return (version if is_active else -1), revoked_at is not None
