"""Starting a device session: its row, its first tokens, its audit row, the
session limit and the new-device alert (``flows.log_in`` and its kin)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from . import alerts, audit, revocation, throttling
from .clientip import client_ip
from .conf import app_settings
from .devices import describe, network_of
from .lifetimes import capped_expiry
from .models import AuditEvent, LoginSession
from .pairs import TokenPair, issue_pair


def start_session(
    request: HttpRequest | None, user: AbstractBaseUser, *, now: datetime, remember: bool = True
) -> TokenPair:
    """A new device session for ``user`` and its first tokens."""
    meta = request.META if request is not None else {}
    ip = client_ip(request)
    session = LoginSession(
        # Any instance of AUTH_USER_MODEL; the plugin types the key as the demo site's model.
        user=user,  # type: ignore[misc]
        created_at=now,
        last_used_at=now,
        user_agent=describe(meta.get("HTTP_USER_AGENT", ""))[:200],
        ip_address=ip,
        current_jti=uuid.uuid4().hex,
        persistent=remember,
        auth_time=now,
        network=network_of(ip),
    )
    session.expires_at = capped_expiry(session, now)
    session.save(force_insert=True)
    pair = issue_pair(user, session, now=now)
    if request is not None:
        # The cookie that lets this browser past the account-wide login limit later.
        pair = replace(pair, device=throttling.device_cookie_value(user))
    # The device and network also let new-device alerts recognise a device
    # whose session rows prune_sessions has deleted (alerts.py).
    audit.record(
        AuditEvent.Kind.LOGIN,
        user=user,
        request=request,
        session=str(session.pk),
        device=session.user_agent,
        network=session.network,
    )
    enforce_session_limit(session, request=request)
    alerts.notify_if_new_device(request, session, now=now)
    return pair


def enforce_session_limit(session: LoginSession, *, request: HttpRequest | None = None) -> int:
    """TOKENS_SESSION_LIMIT: end the least recently used sessions beyond it.

    The new ``session`` always stays; a device ended here is told why on its
    next refresh (SessionLimitReached). Returns how many were ended.
    """
    limit = app_settings.SESSION_LIMIT
    if not limit:
        return 0
    others = (
        LoginSession.objects.active()
        .filter(user_id=session.user_id)
        .exclude(pk=session.pk)
        .select_related("user")
        .order_by("-last_used_at", "-created_at")
    )
    surplus = list(others[max(limit - 1, 0) :])
    return revocation.revoke_sessions(surplus, reason="session_limit", request=request)
