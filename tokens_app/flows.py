"""The business steps: log in, refresh, log out, end sessions.

Views, the API, the middleware, the admin and the commands all call these; a
reader who wants to know "what happens on refresh" reads ``refresh`` below.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.db import transaction
from django.middleware.csrf import rotate_token
from django.utils.functional import SimpleLazyObject, empty

from . import alerts, audit, clock, revocation
from .conf import app_settings
from .devices import describe, network_of
from .exceptions import (
    SessionLimitReached,
    SessionMaxLifetime,
    SessionReported,
    TokenError,
    TokenExpired,
    TokenReused,
    TokenRevoked,
    UserInactive,
)
from .models import AuditEvent, LoginSession
from .signals import refresh_token_reused
from .tokens import IssuedToken, issue_access, issue_refresh, verify_access, verify_refresh

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access: IssuedToken
    refresh: IssuedToken
    user: Any
    # "Remember me": False gives browser-session cookies (cookies.py).
    persistent: bool = True


def _now(now: datetime | None) -> datetime:
    return now or clock.now()


def max_lifetime(session: LoginSession) -> timedelta:
    """How long ``session`` may last from its sign-in (remembered or not)."""
    if session.persistent:
        return app_settings.SESSION_MAX_LIFETIME
    return app_settings.BROWSER_SESSION_MAX_LIFETIME


def session_deadline(session: LoginSession) -> datetime:
    """The moment ``session`` ends however active it is: its maximum lifetime.

    Read from the settings each time, so shortening the setting shortens the
    sessions already running too.
    """
    return session.created_at + max_lifetime(session)


def _capped_expiry(session: LoginSession, now: datetime) -> datetime:
    # The idle timeout (REFRESH_LIFETIME from now), never past the deadline.
    return min(now + app_settings.REFRESH_LIFETIME, session_deadline(session))


def _pair(user, session: LoginSession, *, now: datetime, jti: str | None = None) -> TokenPair:
    """Tokens for ``session``: capped at its deadline, carrying its auth_time."""
    deadline = session_deadline(session)
    auth_time = session.auth_time or session.created_at
    return TokenPair(
        access=issue_access(user, session_id=session.pk, now=now, not_after=deadline, auth_time=auth_time),
        refresh=issue_refresh(
            user,
            session_id=session.pk,
            jti=jti or session.current_jti,
            now=now,
            not_after=deadline,
            auth_time=auth_time,
        ),
        user=user,
        persistent=session.persistent,
    )


def _ended(session: LoginSession) -> TokenRevoked:
    """The error that tells a device why its session was ended."""
    return {"session_limit": SessionLimitReached, "reported": SessionReported}.get(
        session.revoked_reason, TokenRevoked
    )()


def log_in(request, user, *, now: datetime | None = None, remember: bool = True) -> TokenPair:
    """Start a device session for an authenticated ``user`` and mint its tokens.

    ``remember`` False: browser-session cookies and the shorter maximum lifetime.
    """
    now = _now(now)
    jti = uuid.uuid4().hex
    meta = request.META if request is not None else {}
    ip = audit.client_ip(request)
    session = LoginSession(
        user=user,
        created_at=now,
        last_used_at=now,
        user_agent=describe(meta.get("HTTP_USER_AGENT", ""))[:200],
        ip_address=ip,
        current_jti=jti,
        persistent=remember,
        auth_time=now,
        network=network_of(ip),
    )
    session.expires_at = _capped_expiry(session, now)
    session.save(force_insert=True)
    pair = _pair(user, session, now=now, jti=jti)
    if request is not None:
        # As django.contrib.auth.login does: a CSRF token planted before
        # login (by a sibling subdomain, say) is not good after it.
        rotate_token(request)
    # Django's own receiver updates last_login; other apps may listen too.
    user_logged_in.send(sender=user.__class__, request=request, user=user)
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
    _enforce_session_limit(session, request=request)
    alerts.notify_if_new_device(request, session, now=now)
    return pair


def _enforce_session_limit(session: LoginSession, *, request=None) -> int:
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


def refresh(raw_refresh: str | None, *, request=None, now: datetime | None = None) -> TokenPair:
    """Rotate a refresh token: new access and refresh tokens, the old one retired.

    Honoured only if the signature, type and expiry hold, the user is active,
    ``ver`` equals the user's token_version, the device session is neither
    revoked nor expired, and the token is the session's current one. The
    session's previous token is answered with the current one for
    ROTATION_GRACE (two tabs refreshing at once); any other retired token is
    reuse, which ends the session. Two queries: the locked read and the update.
    """
    now = _now(now)
    claims = verify_refresh(raw_refresh, now=now)
    with transaction.atomic():
        try:
            session = (
                LoginSession.objects.select_for_update(of=("self",))
                .select_related("user")
                .get(pk=claims.sid, user_id=claims.sub)
            )
        except (LoginSession.DoesNotExist, ValidationError, ValueError):
            raise TokenRevoked() from None
        user = session.user
        if not user.is_active:
            raise UserInactive()
        if session.revoked_at is not None:
            raise _ended(session)
        if claims.ver != user.token_version:
            raise TokenRevoked()
        if session_deadline(session) <= now:
            raise SessionMaxLifetime()
        if session.expires_at <= now:
            raise TokenExpired()

        if claims.jti == session.current_jti:
            session.previous_jti, session.current_jti = session.current_jti, uuid.uuid4().hex
            session.rotated_at = session.last_used_at = now
            session.expires_at = _capped_expiry(session, now)
            session.rotations += 1
            session.save(
                update_fields=[
                    "previous_jti",
                    "current_jti",
                    "rotated_at",
                    "last_used_at",
                    "expires_at",
                    "rotations",
                ]
            )
        elif not (
            claims.jti == session.previous_jti
            and session.rotated_at is not None
            and now - session.rotated_at <= app_settings.ROTATION_GRACE
        ):
            session = None  # reuse: acted on below, outside the lock's transaction
        if session is not None:
            return _pair(user, session, now=now)

    stolen = LoginSession.objects.select_related("user").get(pk=claims.sid)
    logger.warning("refresh token reuse user_id=%s session=%s jti=%s", user.pk, stolen.pk, claims.jti)
    revocation.revoke_session(stolen, reason="refresh_reused", request=request)
    audit.record(
        AuditEvent.Kind.REFRESH_REUSED, user=user, request=request, session=str(stolen.pk), jti=claims.jti
    )
    refresh_token_reused.send(sender=LoginSession, user=user, session=stolen, request=request)
    raise TokenReused()


def session_id_from(request) -> str | None:
    """The device session of this request, from either cookie, if validly signed."""
    for verify, cookie in (
        (verify_refresh, app_settings.REFRESH_COOKIE),
        (verify_access, app_settings.ACCESS_COOKIE),
    ):
        try:
            return verify(request.COOKIES.get(cookie)).sid
        except TokenError:  # expired or invalid: try the other cookie
            continue
    return None


def log_out(request, *, reason: str = "logout") -> None:
    """End this device's session. Cookies are cleared by the caller's response."""
    sid = session_id_from(request)
    if sid is None:
        return
    session = LoginSession.objects.select_related("user").filter(pk=sid).first()
    if session is not None:
        revocation.revoke_session(session, reason=reason, actor=session.user, request=request)


def _loaded(user):
    """The model instance behind ``request.user``.

    A TokenUser loads its row on first use and checks it against the token;
    that must happen before the row's token_version changes, or the check
    sees the new version and disowns the user half-way through a revocation.
    None if the user is no longer signed in.
    """
    while isinstance(user, SimpleLazyObject):  # the middleware's lazy request.user, then the TokenUser
        if user._wrapped is empty:
            user._setup()
        user = user._wrapped
    return user if user.is_authenticated else None


def log_out_everywhere(request, user) -> int:
    """End every session of ``user``, this one included."""
    user = _loaded(user)
    if user is None:
        return 0  # its sessions have already been ended
    return revocation.bump_token_version(user, reason="logout_all", actor=user, request=request)


def force_logout(users, *, actor=None, request=None, reason: str = "force_logout") -> int:
    """End every session of each of ``users``; returns how many users."""
    count = 0
    for user in users:
        revocation.bump_token_version(user, reason=reason, actor=actor, request=request)
        count += 1
    return count


def log_out_other_devices(request, user) -> int:
    """End every session of ``user`` except this device's."""
    current = session_id_from(request)
    others = LoginSession.objects.active().filter(user=user).exclude(pk=current).select_related("user")
    return revocation.revoke_sessions(others, reason="logout_others", actor=user, request=request)


def reissue_after_password_change(request, user) -> TokenPair:
    """Keep this browser signed in after its own password change ended every
    session (what ``update_session_auth_hash`` does for Django sessions)."""
    current = LoginSession.objects.filter(pk=session_id_from(request)).only("persistent").first()
    return log_in(request, user, remember=current.persistent if current is not None else True)


def reauthenticate(request, user, *, now: datetime | None = None) -> TokenPair:
    """The user typed their password again on this device: note the time
    (``auth_time``) and rotate its tokens to carry it. Raises TokenRevoked if
    this device's session has ended meanwhile."""
    now = _now(now)
    sid = session_id_from(request)
    with transaction.atomic():
        session = (
            LoginSession.objects.select_for_update().active(now=now).filter(pk=sid, user_id=user.pk).first()
            if sid
            else None
        )
        if session is None:
            raise TokenRevoked()
        # A rotation like refresh's, so the tokens this browser held stay
        # good for the grace window (another tab may be using them).
        session.previous_jti, session.current_jti = session.current_jti, uuid.uuid4().hex
        session.rotated_at = session.last_used_at = session.auth_time = now
        session.expires_at = _capped_expiry(session, now)
        session.save(
            update_fields=[
                "previous_jti",
                "current_jti",
                "rotated_at",
                "last_used_at",
                "auth_time",
                "expires_at",
            ]
        )
    audit.record(AuditEvent.Kind.REAUTHENTICATED, user=user, request=request, session=str(session.pk))
    return _pair(user, session, now=now)
