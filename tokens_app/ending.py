"""Ending sessions on request: one device, the other devices, every session
of some users (the devices page and API, the admin, the commands)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.http import Http404, HttpRequest

from . import revocation
from .models import LoginSession

if TYPE_CHECKING:
    from .audit import Actor


def log_out_device(request: HttpRequest | None, current: LoginSession, session_id: Any) -> LoginSession:
    """End one of the devices of ``current``'s user (this one, possibly).

    Another user's session is indistinguishable from a missing or ended one:
    Http404 for all three, so no session id can be probed.
    """
    session = (
        LoginSession.objects.active()
        .select_related("user")
        .filter(pk=session_id, user_id=current.user_id)
        .first()
    )
    if session is None:
        raise Http404("No such session.")
    revocation.revoke_session(session, reason="logout_device", actor=current.user, request=request)
    return session


def log_out_other_devices(request: HttpRequest | None, current: LoginSession) -> int:
    """End every session of ``current``'s user except ``current`` itself."""
    others = (
        LoginSession.objects.active()
        .filter(user_id=current.user_id)
        .exclude(pk=current.pk)
        .select_related("user")
    )
    return revocation.revoke_sessions(others, reason="logout_others", actor=current.user, request=request)


def force_logout(
    users: Iterable[Any],
    *,
    actor: Actor = None,
    request: HttpRequest | None = None,
    reason: str = "force_logout",
) -> int:
    """End every session of each of ``users``; returns how many users."""
    count = 0
    for user in users:
        revocation.bump_token_version(user, reason=reason, actor=actor, request=request)
        count += 1
    return count
