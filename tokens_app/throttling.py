"""Throttling for hostile traffic: password guessing, reset-email bombing,
refresh-token guessing. Counts live in the Django cache (Redis in production,
so every app server sees the same numbers).

Each limit is a counter per (scope, identity): the first hit creates it with
``cache.add`` and an expiry of one window, later hits ``cache.incr`` it (both
atomic on Redis). The window starts at the first hit, so the limit cannot be
doubled by straddling a clock boundary. At ``limit`` the identity is refused
until the counter expires; refused attempts are not counted again.

Login: failures per account (the username as typed, normalised, known or not)
and per client IP. A locked account or IP is refused before the password is
looked at, the same way for an unknown username as for a known one (no
database query, no hasher), and a success clears the account's failures (not
the IP's: one valid account must not launder an IP's guesses). Unknown
usernames run through ``authenticate`` exactly like known ones, and Django's
ModelBackend runs the hasher for them, so timing tells nothing either.

The cache failing opens the gate (logged): throttling must not take logins
down with it. Settings and defaults: conf.py.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import authenticate as django_authenticate
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils.translation import ngettext

from . import audit
from .conf import app_settings
from .models import AuditEvent

logger = logging.getLogger(__name__)

LOGIN_ACCOUNT = "login_account"
LOGIN_IP = "login_ip"
RESET_ADDRESS = "reset_address"
RESET_IP = "reset_ip"
REFRESH_IP = "refresh_ip"


class RateLimited(Exception):
    """Refused without looking further; ``retry_after`` is in whole seconds."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(scope, retry_after)
        self.scope = scope
        self.retry_after = retry_after


def _now() -> float:
    return time.time()


def wait_text(seconds: int) -> str:
    """'1 minute', '3 minutes', '40 seconds': when to try again, rounded up."""
    if seconds >= 60:
        minutes = -(-seconds // 60)
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the address our own proxy wrote.

    With TOKENS_CLIENT_IP_HEADER (e.g. "HTTP_X_FORWARDED_FOR") and
    TOKENS_TRUSTED_PROXY_COUNT = N, the N-th entry from the right is taken:
    entries to its left were sent by the client and prove nothing. A header
    too short or not an address falls back to REMOTE_ADDR.
    """
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    header = app_settings.CLIENT_IP_HEADER
    if not header:
        return remote
    hops = [part.strip() for part in request.META.get(header, "").split(",") if part.strip()]
    count = app_settings.TRUSTED_PROXY_COUNT
    if count < 1 or len(hops) < count:
        return remote
    candidate = hops[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        logger.warning("unusable client address in %s, using REMOTE_ADDR", header)
        return remote


def ip_identity(request) -> str:
    """What the per-IP limits count: the address, or its /64 for IPv6 (one
    IPv6 client usually holds a whole /64)."""
    return _bucket(client_ip(request) or "unknown")


def _bucket(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        prefix = app_settings.THROTTLE_IPV6_PREFIX
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    return str(address)


def normalise(value: str) -> str:
    """One counter for "Alice", "alice" and their Unicode look-alikes."""
    return unicodedata.normalize("NFKC", value).casefold()


def _seconds(window: timedelta | int | float) -> int:
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
    def for_rate(cls, scope: str, identity: str, rate: tuple) -> Counter:
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
        now = _now() if now is None else now
        try:
            # Every refresh asks this: read the count alone, with the cache's
            # fast integer read where it has one (authproject/cache.py); the
            # window's start is read only for a client over the limit.
            get_ints = getattr(cache, "get_ints", None)
            count = get_ints([self.key])[0] if get_ints is not None else cache.get(self.key)
            if int(count or 0) < self.limit:
                return None
            started = cache.get(self._started_key, now)
        except Exception:
            logger.exception("throttle cache unavailable, scope=%s not enforced", self.scope)
            return None
        return max(1, math.ceil(started + self.window - now))

    def hit(self, *, now: float | None = None) -> int:
        """Count one event; returns the count in this window (0 if the cache failed)."""
        now = _now() if now is None else now
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

    def count(self) -> int:
        try:
            return int(cache.get(self.key) or 0)
        except Exception:
            logger.exception("throttle cache unavailable, scope=%s", self.scope)
            return 0

    def reset(self) -> None:
        try:
            cache.delete_many([self.key, self._started_key])
        except Exception:
            logger.exception("throttle cache unavailable, scope=%s not reset", self.scope)


def account_counter(username: str) -> Counter:
    return Counter.for_rate(LOGIN_ACCOUNT, normalise(username), app_settings.LOGIN_ACCOUNT_RATE)


def login_ip_counter(request) -> Counter:
    return Counter.for_rate(LOGIN_IP, ip_identity(request), app_settings.LOGIN_IP_RATE)


def _refuse_if_over(*counters: Counter) -> None:
    if not app_settings.THROTTLE_ENABLED:
        return
    waits = [(wait, c.scope) for c in counters if (wait := c.retry_after()) is not None]
    if waits:
        wait, scope = max(waits)
        logger.info("throttled scope=%s retry_after=%d", scope, wait)
        raise RateLimited(scope, wait)


def _hit(request, counter: Counter, *, user=None) -> None:
    """Count one event; the hit that reaches the limit is audited (once per
    window, so an attack cannot fill the audit table). ``user`` is a callable
    naming the account, asked only then."""
    if not app_settings.THROTTLE_ENABLED:
        return
    if counter.hit() == counter.limit:
        audit.record(
            AuditEvent.Kind.THROTTLED,
            user=user() if user else None,
            reason=counter.scope,
            request=request,
            limit=counter.limit,
            window=counter.window,
        )


def _user_named(username: str):
    model = get_user_model()
    return model._default_manager.filter(**{model.USERNAME_FIELD: username}).first()


def check_login(request, username: str) -> None:
    """Raise RateLimited if this account or this client may not try now."""
    _refuse_if_over(account_counter(username), login_ip_counter(request))


def login_failed(request, username: str) -> None:
    # The lock is audited with the account (and so shows in the admin's
    # "locked out" filter) if it exists. Unknown names are not stored: they
    # are often passwords typed into the wrong box.
    _hit(request, account_counter(username), user=lambda: _user_named(username))
    _hit(request, login_ip_counter(request))


def login_succeeded(request, username: str) -> None:
    account_counter(username).reset()


def authenticate(request, *, username: str, password: str):
    """``django.contrib.auth.authenticate`` behind the login limits.

    Raises RateLimited (the password is not checked); returns the user or None.
    """
    check_login(request, username)
    user = django_authenticate(request, username=username, password=password)
    if user is None:
        login_failed(request, username)
    else:
        login_succeeded(request, username)
    return user


def lockout_remaining(user) -> int | None:
    """Seconds the account of ``user`` stays locked, or None."""
    return account_counter(user.get_username()).retry_after()


def clear_lockout(user, *, actor=None, request=None) -> bool:
    """Forget the account's failed logins; True if it was locked."""
    counter = account_counter(user.get_username())
    was_locked = counter.retry_after() is not None
    counter.reset()
    audit.record(
        AuditEvent.Kind.LOCKOUT_CLEARED, user=user, actor=actor, request=request, was_locked=was_locked
    )
    return was_locked


def clear_ip(ip: str, *, actor=None, request=None) -> None:
    """Forget every per-IP count of ``ip`` (login, reset, refresh)."""

    identity = _bucket(ip)
    for scope, rate in (
        (LOGIN_IP, app_settings.LOGIN_IP_RATE),
        (RESET_IP, app_settings.RESET_IP_RATE),
        (REFRESH_IP, app_settings.REFRESH_IP_RATE),
    ):
        Counter.for_rate(scope, identity, rate).reset()
    audit.record(AuditEvent.Kind.LOCKOUT_CLEARED, actor=actor, request=request, cleared_ip=identity)


def password_reset_allowed(request, email: str) -> bool:
    """Count a reset request; False means send nothing (the page is the same)."""
    address = Counter.for_rate(RESET_ADDRESS, normalise(email), app_settings.RESET_ADDRESS_RATE)
    per_ip = Counter.for_rate(RESET_IP, ip_identity(request), app_settings.RESET_IP_RATE)
    try:
        _refuse_if_over(address, per_ip)
    except RateLimited:
        return False
    _hit(request, address)
    _hit(request, per_ip)
    return True


def refresh_ip_counter(request) -> Counter:
    return Counter.for_rate(REFRESH_IP, ip_identity(request), app_settings.REFRESH_IP_RATE)


def check_refresh(request) -> None:
    """Raise RateLimited if this client presented too many bad refresh tokens."""
    _refuse_if_over(refresh_ip_counter(request))


def refresh_failed(request) -> None:
    _hit(request, refresh_ip_counter(request))
