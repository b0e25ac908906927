"""The business steps: log in, refresh, log out, end sessions.

Views, the API, the middleware, the admin and the commands all call these; a
reader who wants to know "what happens on refresh" reads ``refresh`` below.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.db import transaction
from django.middleware.csrf import rotate_token
from django.utils.functional import SimpleLazyObject, empty

from . import audit, revocation, versions
from .conf import app_settings
from .devices import describe
from .exceptions import TokenError, TokenExpired, TokenReused, TokenRevoked, UserInactive
from .models import AuditEvent, LoginSession
from .signals import refresh_token_reused
from .tokens import IssuedToken, issue_access, issue_refresh, verify_access, verify_refresh

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access: IssuedToken
    refresh: IssuedToken
    user: Any


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def log_in(request, user, *, now: datetime | None = None) -> TokenPair:
    """Start a device session for an authenticated ``user`` and mint its tokens."""
    pair = _start_session(request, user, now=now)
    if request is not None:
        # As django.contrib.auth.login does: a CSRF token planted before
        # login (by a sibling subdomain, say) is not good after it.
        rotate_token(request)
    # Django's own receiver updates last_login; other apps may listen too.
    # ``tokens_pair`` tells our receiver (receivers.py) this login has its
    # tokens already, so it does not start a second session.
    user_logged_in.send(sender=user.__class__, request=request, user=user, tokens_pair=pair)
    return pair


def log_in_after_django_login(request, user) -> TokenPair:
    """The tokens for a login made by ``django.contrib.auth.login()`` (the
    stock admin login, DRF's browsable API, allauth), which has rotated the
    CSRF token and sent ``user_logged_in`` itself."""
    return _start_session(request, user, now=None)


def _start_session(request, user, *, now: datetime | None) -> TokenPair:
    now = _now(now)
    jti = uuid.uuid4().hex
    meta = request.META if request is not None else {}
    session = LoginSession.objects.create(
        user=user,
        created_at=now,
        last_used_at=now,
        expires_at=now + app_settings.REFRESH_LIFETIME,
        user_agent=describe(meta.get("HTTP_USER_AGENT", ""))[:200],
        ip_address=audit.client_ip(request),
        current_jti=jti,
    )
    audit.record(AuditEvent.Kind.LOGIN, user=user, request=request, session=str(session.pk))
    return TokenPair(
        access=issue_access(user, session_id=session.pk, now=now),
        refresh=issue_refresh(user, session_id=session.pk, jti=jti, now=now),
        user=user,
    )


def redeem_login_handoff(session_id: str, *, request=None, now: datetime | None = None) -> TokenPair:
    """The first tokens of a device session started by ``django.contrib.auth.login()``
    on a request that had no response to carry them (the test client's
    ``login()`` and ``force_login()``): the session must never have been
    refreshed, so the handoff works once; the refresh then rotates it."""
    try:
        session = (
            LoginSession.objects.select_related("user", *versions.joined("user"))
            .filter(pk=session_id, rotations=0)
            .first()
        )
    except (ValidationError, ValueError):
        session = None
    if session is None:
        raise TokenRevoked()
    first = issue_refresh(session.user, session_id=session.pk, jti=session.current_jti, now=now)
    return refresh(first.token, request=request, now=now)


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
                .select_related("user", *versions.joined("user"))
                .get(pk=claims.sid, user_id=claims.sub)
            )
        except (LoginSession.DoesNotExist, ValidationError, ValueError):
            raise TokenRevoked() from None
        user = session.user
        if not user.is_active:
            raise UserInactive()
        if session.revoked_at is not None or claims.ver != versions.of(user):
            raise TokenRevoked()
        if session.expires_at <= now:
            raise TokenExpired()

        if claims.jti == session.current_jti:
            session.previous_jti, session.current_jti = session.current_jti, uuid.uuid4().hex
            session.rotated_at = session.last_used_at = now
            session.expires_at = now + app_settings.REFRESH_LIFETIME
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
            return TokenPair(
                access=issue_access(user, session_id=session.pk, now=now),
                refresh=issue_refresh(user, session_id=session.pk, jti=session.current_jti, now=now),
                user=user,
            )

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
    return log_in(request, user)
