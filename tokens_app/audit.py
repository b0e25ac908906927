"""The audit trail: one log line and one AuditEvent row per security event."""

from __future__ import annotations

import logging

from . import throttling
from .models import AuditEvent

logger = logging.getLogger("tokens_app.audit")


def client_ip(request) -> str | None:
    """The address the request came from: see ``throttling.client_ip``."""
    return throttling.client_ip(request)


def record(kind: str, *, user=None, actor=None, reason: str = "", request=None, **detail) -> AuditEvent:
    ip = client_ip(request)
    logger.info(
        "event=%s user_id=%s actor_id=%s reason=%s ip=%s %s",
        kind,
        getattr(user, "pk", None),
        getattr(actor, "pk", None),
        reason or "-",
        ip or "-",
        " ".join(f"{key}={value}" for key, value in sorted(detail.items())),
    )
    return AuditEvent.objects.create(
        kind=kind,
        # Ids, not instances: a lazy request.user must not be loaded (or found
        # stale) just to be named in the trail.
        user_id=getattr(user, "pk", None),
        actor_id=getattr(actor, "pk", None),
        reason=reason[:64],
        ip_address=ip,
        detail=detail,
    )
