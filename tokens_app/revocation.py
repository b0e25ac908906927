"""Ending sessions: the only writer of token_version.

``bump_token_version`` ends every session of a user at once; ``revoke_session``
ends one device. Each commits, then writes the new state through to the cache
(revocation_check.py), where every request checks it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import audit, versions
from .conf import app_settings
from .models import AuditEvent, LoginSession
from .revocation_check import marker_timeout, session_key, version_key, write_through
from .signals import session_revoked, tokens_revoked

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

    from .audit import Actor

logger = logging.getLogger(__name__)


def bump_token_version(
    user: AbstractBaseUser,
    *,
    reason: str,
    actor: Actor = None,
    request: HttpRequest | None = None,
) -> int:
    """End every session of ``user``: one atomic ``token_version + 1``.

    Returns the new version and sets it on ``user`` too, so a later save() of
    this instance cannot write the old value back. Safe under concurrency: two
    bumps give +2.
    """
    User = get_user_model()
    now = timezone.now()
    with transaction.atomic():
        version = _increment(user.pk)
        LoginSession.objects.filter(user_id=user.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_reason=reason[:40]
        )
        audit.record(AuditEvent.Kind.REVOKED, user=user, actor=actor, reason=reason, request=request)
        transaction.on_commit(
            lambda: write_through(version_key(user.pk), version, app_settings.VERSION_CACHE_TIMEOUT)
        )
    versions.remember(user, version)
    logger.info(
        "revoked user_id=%s version=%d reason=%s actor_id=%s",
        user.pk,
        version,
        reason,
        getattr(actor, "pk", None),
    )
    tokens_revoked.send(sender=User, user=user, reason=reason, actor=actor, version=version)
    return version


def _increment(user_id: object) -> int:
    """token_version + 1 in one UPDATE, wherever it is stored (versions.py)."""
    model, field, user_lookup, create_missing = versions.storage()
    rows = model._default_manager.filter(**{user_lookup: user_id})
    if not rows.update(**{field: F(field) + 1}) and create_missing:
        # The user's first bump: the one-to-one row is created on demand. A
        # concurrent first bump's INSERT is waited for, then found; both
        # increments then apply, so two bumps still give +2.
        model._default_manager.get_or_create(defaults=None, **{user_lookup: user_id})
        rows.update(**{field: F(field) + 1})
    # Inside the transaction our UPDATE holds the row lock, so this reads
    # our own increment, not a concurrent one.
    return rows.values_list(field, flat=True).get()


def revoke_session(
    session: LoginSession,
    *,
    reason: str,
    actor: Actor = None,
    request: HttpRequest | None = None,
) -> bool:
    """End one device session. Returns False when it had already ended."""
    now = timezone.now()
    with transaction.atomic():
        ended = LoginSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_reason=reason[:40]
        )
        if ended:
            audit.record(
                AuditEvent.Kind.SESSION_REVOKED,
                user=session.user,
                actor=actor,
                reason=reason,
                request=request,
                session=str(session.pk),
            )
            transaction.on_commit(
                lambda: write_through(
                    session_key(session.pk),
                    1,
                    int(app_settings.ACCESS_LIFETIME.total_seconds()) + 60,
                )
            )
    if ended:
        session.revoked_at, session.revoked_reason = now, reason[:40]
        session_revoked.send(sender=LoginSession, session=session, reason=reason, actor=actor)
    return bool(ended)


def revoke_sessions(
    sessions: Iterable[LoginSession],
    *,
    reason: str,
    actor: Actor = None,
    request: HttpRequest | None = None,
) -> int:
    return sum(revoke_session(s, reason=reason, actor=actor, request=request) for s in sessions)


def session_deleted(session: LoginSession) -> None:
    """A session row was deleted (by the admin, or with its user): the device
    has ended, even for a cache that holds it as live. Expired and revoked
    rows (what prune_sessions deletes) issued no access token still alive
    that the cache could think live, and are skipped."""
    if session.revoked_at is None and session.expires_at > timezone.now():
        key, timeout = session_key(session.pk), marker_timeout(ended=True)
        transaction.on_commit(lambda: write_through(key, 1, timeout))
