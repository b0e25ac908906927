"""``GET /revocations/``: the signed feed of ended sessions, for other services.

A resource server with no access to our Redis follows it to refuse access
tokens that were revoked here before they expire (tokens_app.verifier's
``FeedRevocations``, examples/node_express). Each page lists, since an
opaque cursor, the users whose sessions all ended (a token_version bump:
tokens below ``ver`` are refused) and the device sessions that ended
(tokens naming ``sid`` are refused). It is read from the audit trail's
REVOKED and SESSION_REVOKED rows: no table of its own.

- Small: only events of the last access lifetime (plus leeway) are ever
  listed; tokens issued before them have expired everywhere.
- Signed: the body is a compact JWS (``application/jwt``) made with the
  current access key, so it is checked with the JWKS or the shared access
  secret the service already has; its ``typ`` keeps it from passing for a token.
- Private: it says which accounts were forced out, and when, by user and
  session id; only a service holding one of TOKENS_REVOCATION_FEED_CREDENTIALS
  (``Authorization: Bearer ...``) reads it. With none configured it is off (404).
- Cacheable by its reader: ``Cache-Control: private, max-age`` of the poll
  interval; the cursor makes each poll a few indexed rows.

Cursors: an event is passed over by the cursor only once it is a few seconds
old, so an event whose transaction committed after a newer one's is still
listed (entries are idempotent: a reader may see one twice).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_safe

from . import versions
from .conf import app_settings
from .models import AuditEvent
from .tokens import sign_feed

# How old an event must be before the cursor passes it: longer than a
# revocation's transaction takes to commit.
SETTLE = timedelta(seconds=2)
_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,24}$")
_KINDS = (AuditEvent.Kind.REVOKED, AuditEvent.Kind.SESSION_REVOKED)


class BadCursor(ValueError):
    pass


def encode_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"1:{event_id}".encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> int:
    if not _CURSOR.match(cursor):
        raise BadCursor(cursor)
    try:
        version, _, number = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).partition(b":")
        event_id = int(number)
    except (binascii.Error, ValueError):
        raise BadCursor(cursor) from None
    if version != b"1" or not 0 <= event_id < 2**63:
        raise BadCursor(cursor)
    return event_id


def window() -> timedelta:
    """How far back the feed looks: older revocations refuse no live token."""
    return app_settings.ACCESS_LIFETIME + app_settings.LEEWAY + SETTLE


def page(after: int, *, now: datetime | None = None) -> dict[str, Any]:
    """The feed's page after event ``after``: its entries, next cursor and whether more follow."""
    now = now or timezone.now()
    size = app_settings.REVOCATION_FEED_PAGE_SIZE
    rows = list(
        AuditEvent.objects.filter(kind__in=_KINDS, id__gt=after, created_at__gte=now - window())
        .order_by("id")
        .values_list("id", "kind", "user_id", "created_at", "detail")[: size + 1]
    )
    more = len(rows) > size
    rows = rows[:size]
    cursor = after
    for event_id, _kind, _user, created_at, _detail in rows:
        if not more and created_at > now - SETTLE:
            break  # listed now, and again next time: it may have overtaken an uncommitted one
        cursor = event_id
    bumped = {user_id for _, kind, user_id, _, _ in rows if kind == AuditEvent.Kind.REVOKED and user_id}
    current = dict(
        get_user_model()
        ._default_manager.filter(pk__in=bumped)
        .values_list("pk", versions.expression())
        .iterator()
    )
    users: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    for _, kind, user_id, created_at, detail in rows:
        at = int(created_at.timestamp())
        if kind == AuditEvent.Kind.REVOKED and user_id in current:
            users.append({"sub": str(user_id), "ver": current[user_id], "at": at})
        elif kind == AuditEvent.Kind.SESSION_REVOKED and isinstance(detail, dict) and detail.get("session"):
            sessions.append({"sid": str(detail["session"]), "sub": str(user_id), "at": at})
    return {
        "cursor": encode_cursor(cursor),
        "more": more,
        "window": int(window().total_seconds()),
        "users": users,
        "sessions": sessions,
    }


def _authorized(request: HttpRequest) -> bool:
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential:
        return False
    # Every configured credential is compared, so timing tells nothing of which matched.
    matches = [constant_time_compare(credential, good) for good in app_settings.REVOCATION_FEED_CREDENTIALS]
    return any(matches)


def _error(status: int, code: str, detail: str) -> JsonResponse:
    response = JsonResponse({"code": code, "detail": detail}, status=status)
    patch_cache_control(response, private=True, no_store=True)
    patch_vary_headers(response, ("Authorization",))
    return response


@login_not_required
@require_safe
def revocation_feed(request: HttpRequest) -> HttpResponse:
    if not app_settings.REVOCATION_FEED_CREDENTIALS:
        return _error(404, "feed_disabled", "Set TOKENS_REVOCATION_FEED_CREDENTIALS to serve this feed.")
    if not _authorized(request):
        refused = _error(401, "feed_credential_invalid", "A feed credential is required.")
        refused["WWW-Authenticate"] = 'Bearer realm="revocations"'
        return refused
    try:
        after = decode_cursor(request.GET["cursor"]) if "cursor" in request.GET else 0
    except BadCursor:
        return _error(400, "cursor_invalid", "Unknown cursor: start again without one.")
    now = timezone.now()
    issued = int(now.timestamp())
    body = {**page(after, now=now), "iat": issued, "exp": issued + 60}
    response = HttpResponse(sign_feed(body), content_type="application/jwt")
    patch_cache_control(response, private=True, max_age=app_settings.REVOCATION_FEED_MAX_AGE)
    patch_vary_headers(response, ("Authorization",))
    return response
