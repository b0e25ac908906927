"""The audit trail: one log line and one AuditEvent row per security event."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from django.utils.crypto import salted_hmac

from .clientip import client_ip
from .models import AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

    # Who did it: a user, or request.user as it comes (only its pk is read;
    # an AnonymousUser's is None).
    Actor = AbstractBaseUser | AnonymousUser | None

logger = logging.getLogger("tokens_app.audit")

# Control characters (newlines included, and Unicode's line separators) and
# the backslash that escapes them; spaces, quotes and "=" are quoted below.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\\]")
_NEEDS_QUOTES = re.compile(r'[\s="]')


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def loggable(value: object) -> str:
    """``value`` made safe for one ``key=value`` log line.

    Every logged value a client could have chosen goes through this: a
    newline in a username must not start a forged line, and a space or "="
    must not add a forged field.
    """
    text = _UNPRINTABLE.sub(_escape, str(value))
    if not text or _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def keyed_hash(value: str) -> str:
    """A stable, keyed stand-in for a value that must not be stored in clear
    (a name that matched no account is often a password typed into the wrong
    box): equal names give equal hashes, so repeated attempts still show."""
    return salted_hmac("tokens_app.audit.keyed_hash", value, algorithm="sha256").hexdigest()[:16]


def record(
    kind: str,
    *,
    user: AbstractBaseUser | None = None,
    actor: Actor = None,
    reason: str = "",
    request: HttpRequest | None = None,
    **detail: Any,
) -> AuditEvent:
    ip = client_ip(request)
    logger.info(
        "event=%s user_id=%s actor_id=%s reason=%s ip=%s %s",
        loggable(kind),
        getattr(user, "pk", None),
        getattr(actor, "pk", None),
        loggable(reason or "-"),
        loggable(ip or "-"),
        " ".join(f"{loggable(key)}={loggable(value)}" for key, value in sorted(detail.items())),
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
