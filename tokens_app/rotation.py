"""The steps of a refresh, each named for what it decides (``flows.refresh``
runs them in order): lock the session, check it is live, rotate, answer a
retired token (the grace window, a lost response) or end the session for reuse.

A lost response (docs/sessions.md, "Lost responses"): a client whose refresh
answer never arrived still holds the token it sent, now the session's
previous one. It is answered with the current token while three things hold:
the successor was never presented (any refresh with it rotates again, so the
previous token is then two rotations old and is reuse), the retry comes from
the client that rotated (``client_fingerprint``), and it comes within
TOKENS_LOST_RESPONSE_WINDOW of that rotation (retries never extend it).
TOKENS_ROTATION_GRACE set to 0 (strict rotation) turns it off too. So
nothing is written on access requests: "the new pair is in use" is learnt
when its refresh token first comes back.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime

from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from . import audit, prepared, revocation, versions
from .clientip import client_ip
from .conf import app_settings
from .devices import network_of
from .exceptions import SessionMaxLifetime, TokenExpired, TokenReused, TokenRevoked, UserInactive
from .lifetimes import capped_expiry, ended_error, session_deadline
from .models import AuditEvent, LoginSession
from .signals import refresh_token_reused
from .tokens import Claims

# The name the reuse warning has always been logged under (log filters rely on it).
logger = logging.getLogger("tokens_app.flows")

# What a rotation writes: the refresh chain, its time and client, the idle expiry.
_ROTATED_FIELDS = ("previous_jti", "current_jti", "rotated_at", "rotated_by", "last_used_at", "expires_at")


def client_fingerprint(request: HttpRequest | None) -> str:
    """Who is refreshing, as far as copied cookies cannot tell: the client's
    network (its IPv4 /24 or IPv6 /64) and its User-Agent, hashed. Two tabs
    of one browser share it; a thief with the victim's cookies elsewhere
    does not. "" without a request (a management command, a test)."""
    if request is None:
        return ""
    address = client_ip(request) or ""
    # An address that does not parse (a test's REMOTE_ADDR) stands for itself.
    network = network_of(address, ipv6_prefix=64) or address
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:512]
    return hashlib.sha256(f"{network}\n{user_agent}".encode()).hexdigest()[:32]


def lock_session(claims: Claims) -> LoginSession:
    """The session ``claims`` name, locked for this transaction, its user (and
    the user's version) loaded with it: the refresh's one read."""
    # The claims' sid and sub have been checked to fit their columns (tokens.py).
    session = prepared.locked_session(claims.sid, claims.sub, related=("user", *versions.joined("user")))
    if session is None:
        raise TokenRevoked()
    return session


def ensure_live(session: LoginSession, claims: Claims, *, now: datetime) -> None:
    """Raise the error that tells the device why ``session`` cannot be refreshed."""
    if not session.user.is_active:
        raise UserInactive()
    if session.revoked_reason == "refresh_reused" and session.revoked_at is not None:
        raise TokenReused()  # the victim's own browser learns why it was signed out
    if session.revoked_at is not None:
        raise ended_error(session)
    if claims.ver != versions.of(session.user):
        raise TokenRevoked()
    if session_deadline(session) <= now:
        raise SessionMaxLifetime()
    if session.expires_at <= now:
        raise TokenExpired()


def advance(session: LoginSession, *, now: datetime, by: str, fields: tuple[str, ...] = ()) -> None:
    """Retire the current token for a new one and save: the previous token
    stays answerable for the client ``by`` (see ``retry_kind``)."""
    session.previous_jti, session.current_jti = session.current_jti, uuid.uuid4().hex
    session.rotated_at = session.last_used_at = now
    session.rotated_by = by
    session.expires_at = capped_expiry(session, now)
    prepared.update_session(session, (*_ROTATED_FIELDS, *fields))


def rotate(session: LoginSession, *, now: datetime, by: str) -> None:
    """The refresh's rotation: one UPDATE, counted (``rotations``)."""
    session.rotations += 1
    advance(session, now=now, by=by, fields=("rotations",))


def retry_kind(session: LoginSession, claims: Claims, *, now: datetime, fingerprint: str) -> str | None:
    """Why the retired token in ``claims`` is answered with the current one:
    "grace" (another tab of the client that rotated, within ROTATION_GRACE),
    "lost_response" (that client never received the answer), or None: reuse."""
    if claims.jti != session.previous_jti or session.rotated_at is None:
        return None  # two rotations old (or never current): its successor was used
    if not constant_time_compare(session.rotated_by, fingerprint):
        return None  # another client: a copied token is never handed the current one
    age = now - session.rotated_at
    if age <= app_settings.ROTATION_GRACE:
        return "grace"
    # Only a client we can recognise may have lost a response: without a
    # request ("" fingerprint) nobody is bound to the tolerance. A grace of
    # 0 asks for strict rotation: no retired token is ever answered.
    if fingerprint and app_settings.ROTATION_GRACE and age <= app_settings.LOST_RESPONSE_WINDOW:
        return "lost_response"
    return None


def record_retry(session: LoginSession, claims: Claims, kind: str, *, request: HttpRequest | None) -> None:
    """Audit a retired token answered with the current one (inside the refresh's transaction)."""
    audit.record(
        AuditEvent.Kind.REFRESH_GRACE,
        user=session.user,
        reason="" if kind == "grace" else kind,
        request=request,
        session=str(session.pk),
        jti=claims.jti,
    )


def end_for_reuse(session: LoginSession, claims: Claims, *, request: HttpRequest | None) -> TokenReused:
    """A retired token came back: end the device session (after the refresh's
    transaction, so the signals follow a commit) and return the error to raise."""
    user = session.user
    logger.warning("refresh token reuse user_id=%s session=%s jti=%s", user.pk, session.pk, claims.jti)
    revocation.revoke_session(session, reason="refresh_reused", request=request)
    audit.record(
        AuditEvent.Kind.REFRESH_REUSED, user=user, request=request, session=str(session.pk), jti=claims.jti
    )
    refresh_token_reused.send(sender=LoginSession, user=user, session=session, request=request)
    return TokenReused()
