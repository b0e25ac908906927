"""Throttling for hostile traffic: password guessing, reset-email bombing,
refresh-token replay. Counts live in the Django cache (Redis in production,
so every app server sees the same numbers).

Each limit is a counter per (scope, identity), windowed (counters.py).

Login and reset requests take their slot BEFORE the work is done: the
increment is atomic, so of twelve parallel guesses against a limit of five,
five get a slot and seven are refused without the password being looked at.
A refused attempt gives its slot back (it is not counted again); a successful
login gives back what it took, except that it clears its own client's count.

Login, three limits, so that a stranger can make guessing expensive but
cannot lock the owner of a known account out:

- per account and client (TOKENS_LOGIN_CLIENT_RATE, 5 in 5 minutes): the hard
  lock. The client is the browser, if it carries a device cookie issued when
  it signed in to this account before, else the client IP.
- per account, from browsers that never signed in to it
  (TOKENS_LOGIN_ACCOUNT_RATE, 20 an hour): the account as a whole. Over it,
  only known browsers may try; this is the "locked out" of the admin.
- per client IP across accounts (TOKENS_LOGIN_IP_RATE): credential stuffing.

The account key is the username as the user model stores it (NFKC, as
``normalize_username``): Django's ModelBackend is case-sensitive, so "Admin"
is another, non-existing account, with a count of its own, unless
TOKENS_USERNAME_CASE_INSENSITIVE says the backend folds case. A locked
account or client is refused before the password is looked at, the same way
for an unknown username as for a known one (no database query, no hasher).
Unknown usernames run through ``authenticate`` exactly like known ones, and
Django's ModelBackend runs the hasher for them, so timing tells nothing either.

Refresh: only tokens that verify (signed by us) but are refused (revoked,
reused, ended session, inactive user) count against the client IP; junk
cookies cost nothing and count for nothing, so a flood of them cannot block
anyone's refresh. Per-IP limits count the address clientip.py finds.

The cache failing opens the gate (logged): throttling must not take logins
down with it. Settings and defaults: conf.py.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib.auth import authenticate as django_authenticate
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils.translation import ngettext

from . import audit, caching
from .clientip import bucket, ip_identity
from .conf import app_settings
from .counters import Counter, RateLimited, refuse_if_over, take
from .known_devices import account_key, known_device
from .known_devices import device_cookie_value as device_cookie_value  # re-exported for flows
from .models import AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

    from .audit import Actor

logger = logging.getLogger(__name__)

LOGIN_ACCOUNT = "login_account"
LOGIN_CLIENT = "login_client"
LOGIN_IP = "login_ip"
RESET_ADDRESS = "reset_address"
RESET_IP = "reset_ip"
REFRESH_IP = "refresh_ip"


def wait_text(seconds: int) -> str:
    """'1 minute', '3 minutes', '40 seconds': when to try again, rounded up."""
    if seconds >= 60:
        minutes = -(-seconds // 60)
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}


def normalise(value: str) -> str:
    """One counter for "Alice@Example.com" and "alice@example.com": the reset
    form matches addresses case-insensitively."""
    return unicodedata.normalize("NFKC", value).casefold()


def _audit_limit(
    request: HttpRequest | None,
    counter: Counter,
    *,
    user: Callable[[], AbstractBaseUser | None] | None = None,
) -> None:
    """The attempt that reaches a limit is audited (once per window, so an
    attack cannot fill the audit table). ``user`` is a callable naming the
    account, asked only then."""
    audit.record(
        AuditEvent.Kind.THROTTLED,
        user=user() if user else None,
        reason=counter.scope,
        request=request,
        limit=counter.limit,
        window=counter.window,
    )


def _hit(
    request: HttpRequest | None,
    counter: Counter,
    *,
    user: Callable[[], AbstractBaseUser | None] | None = None,
) -> None:
    """Count one event after the fact; the hit that reaches the limit is audited."""
    if not app_settings.THROTTLE_ENABLED:
        return
    if counter.hit() == counter.limit:
        _audit_limit(request, counter, user=user)


# Login ------------------------------------------------------------------


def account_counter(username: str) -> Counter:
    """The account as a whole, counted for browsers it does not know."""
    return Counter.for_rate(LOGIN_ACCOUNT, account_key(username), app_settings.LOGIN_ACCOUNT_RATE)


def login_ip_counter(request: HttpRequest | None) -> Counter:
    return Counter.for_rate(LOGIN_IP, ip_identity(request), app_settings.LOGIN_IP_RATE)


def _account_digest(account: str) -> str:
    return hashlib.sha256(account.encode()).hexdigest()[:40]


def _generation_key(account: str) -> str:
    return f"tokens:throttle:{LOGIN_CLIENT}:gen:{_account_digest(account)}"


def _client_locked_key(account: str) -> str:
    # Set when some client reaches its lock on the account, so clear_lockout
    # can say whether it unlocked anything.
    return f"tokens:throttle:{LOGIN_CLIENT}:locked:{_account_digest(account)}"


def _client_counter(account: str, client: str) -> Counter:
    # The per-client counts of one account cannot be listed to clear them;
    # a new generation (clear_lockout) puts them all under new keys instead.
    try:
        generation = cache.get(_generation_key(account), "0")
    except Exception:
        logger.exception("throttle cache unavailable, scope=%s generation unknown", LOGIN_CLIENT)
        generation = "0"
    identity = f"{account}\0{generation}\0{client}"
    return Counter.for_rate(LOGIN_CLIENT, identity, app_settings.LOGIN_CLIENT_RATE)


def _user_named(username: str) -> AbstractBaseUser | None:
    model = get_user_model()
    return model._default_manager.filter(**{model.USERNAME_FIELD: username}).first()


def authenticate(request: HttpRequest | None, *, username: str, password: str) -> AbstractBaseUser | None:
    """``django.contrib.auth.authenticate`` behind the login limits.

    Raises RateLimited (the password is not checked); returns the user or None.
    """
    account = account_key(username)
    device = known_device(request, username)
    client = _client_counter(account, f"device:{device}" if device else f"ip:{ip_identity(request)}")
    # A browser that signed in to this account before is not held back by
    # what strangers did to it: it passes the account-wide limit.
    counters = [client, login_ip_counter(request)]
    if device is None:
        counters.append(account_counter(username))
    slots = take(*counters)
    user = django_authenticate(request, username=username, password=password)
    if user is None:
        for slot in slots:
            if slot.reached_limit:
                # The lock is audited with the account (and so shows in the
                # admin's "locked out" filter) if it exists. Unknown names are
                # not stored: they are often passwords typed into the wrong box.
                named = slot.counter.scope in (LOGIN_ACCOUNT, LOGIN_CLIENT)
                _audit_limit(request, slot.counter, user=(lambda: _user_named(username)) if named else None)
                if slot.counter is client:
                    caching.quiet_set(_client_locked_key(account), "1", client.window, log=logger)
        return None
    # Not failures: the attempt's slots are given back, and this client's own
    # earlier typos are forgotten. The IP's other failures stay (one valid
    # account must not launder an IP's guesses) and so do strangers' failures
    # against the account.
    for slot in slots:
        if slot.counter is client:
            client.reset()
        elif slot.count:
            slot.counter.give_back()
    return user


def lockout_remaining(user: AbstractBaseUser) -> int | None:
    """Seconds the account of ``user`` stays locked for unknown browsers, or None."""
    return account_counter(user.get_username()).retry_after()


def clear_lockout(user: AbstractBaseUser, *, actor: Actor = None, request: HttpRequest | None = None) -> bool:
    """Forget the account's failed logins, from every client; True if it was locked."""
    account = account_key(user.get_username())
    counter = account_counter(user.get_username())
    was_locked = counter.retry_after() is not None
    counter.reset()
    try:
        was_locked = cache.get(_client_locked_key(account)) is not None or was_locked
        cache.delete(_client_locked_key(account))
    except Exception:
        logger.exception("throttle cache unavailable, scope=%s", LOGIN_CLIENT)
    window = Counter.for_rate(LOGIN_CLIENT, "", app_settings.LOGIN_CLIENT_RATE).window
    caching.quiet_set(_generation_key(account), uuid.uuid4().hex, window, log=logger)
    audit.record(
        AuditEvent.Kind.LOCKOUT_CLEARED, user=user, actor=actor, request=request, was_locked=was_locked
    )
    return was_locked


def clear_ip(ip: str, *, actor: Actor = None, request: HttpRequest | None = None) -> None:
    """Forget every per-IP count of ``ip`` (login, reset, refresh)."""

    identity = bucket(ip)
    for scope, rate in (
        (LOGIN_IP, app_settings.LOGIN_IP_RATE),
        (RESET_IP, app_settings.RESET_IP_RATE),
        (REFRESH_IP, app_settings.REFRESH_IP_RATE),
    ):
        Counter.for_rate(scope, identity, rate).reset()
    audit.record(AuditEvent.Kind.LOCKOUT_CLEARED, actor=actor, request=request, cleared_ip=identity)


# Password reset and refresh ---------------------------------------------


def password_reset_allowed(request: HttpRequest | None, email: str) -> bool:
    """Count a reset request; False means send nothing (the page is the same)."""
    address = Counter.for_rate(RESET_ADDRESS, normalise(email), app_settings.RESET_ADDRESS_RATE)
    per_ip = Counter.for_rate(RESET_IP, ip_identity(request), app_settings.RESET_IP_RATE)
    try:
        slots = take(address, per_ip)
    except RateLimited:
        return False
    for slot in slots:
        if slot.reached_limit:
            _audit_limit(request, slot.counter)
    return True


def refresh_ip_counter(request: HttpRequest | None) -> Counter:
    return Counter.for_rate(REFRESH_IP, ip_identity(request), app_settings.REFRESH_IP_RATE)


def check_refresh(request: HttpRequest | None) -> None:
    """Raise RateLimited if this client presented too many refused refresh tokens."""
    refuse_if_over(refresh_ip_counter(request))


def refresh_failed(request: HttpRequest | None) -> None:
    """Count a refresh token that verified but was refused (see flows.refresh_request)."""
    _hit(request, refresh_ip_counter(request))
