"""The business steps: log in, refresh, log out, end sessions.

Views, the API, the middleware, the admin and the commands all call these; a
reader who wants to know "what happens on refresh" reads ``refresh`` below.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.middleware.csrf import rotate_token
from django.utils.crypto import constant_time_compare

from . import alerts, audit, clock, revocation, throttling, versions
from .clientip import client_ip
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
from .tokens import Claims, IssuedToken, issue_access, issue_refresh, verify_access, verify_refresh
from .users import model_user

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access: IssuedToken
    refresh: IssuedToken
    user: Any
    # Set by a sign-in only: the device cookie that lets this browser past
    # the account-wide login limit later (throttling.py).
    device: str | None = None
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
    pair = _start_session(request, user, now=now, remember=remember)
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


def _start_session(request, user, *, now: datetime | None, remember: bool = True) -> TokenPair:
    now = _now(now)
    jti = uuid.uuid4().hex
    meta = request.META if request is not None else {}
    ip = client_ip(request)
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
    _enforce_session_limit(session, request=request)
    alerts.notify_if_new_device(request, session, now=now)
    return pair


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

    The grace window answers only the client that rotated (same network and
    User-Agent, see ``client_fingerprint``): a thief replaying a copied
    token in step with the victim's rotations, from anywhere else, is reuse.
    Each grace answer is audited (the locked read and the audit row).
    """
    now = _now(now)
    return _rotate(verify_refresh(raw_refresh, now=now), request=request, now=now)


def refresh_request(request, *, now: datetime | None = None) -> TokenPair:
    """Refresh from the request's refresh cookie, behind the per-client limit.

    The one place for "throttle check -> refresh -> count the failure", for
    the middleware's silent refresh and the API alike. Raises a TokenError,
    or throttling.RateLimited (the session is not touched, so the token is
    not spent). Only a token that verifies, signed by us, and is then refused
    (revoked, reused, an ended session, an inactive user) is counted: a
    cookie whose signature does not verify is refused before the limit is
    even read, costs no query and counts for nothing, so a flood of junk
    cannot block the refreshes of everyone who shares the flooder's address.
    Expired tokens are genuine (a return after a break) and not counted.
    """
    now = _now(now)
    claims = verify_refresh(request.COOKIES.get(app_settings.REFRESH_COOKIE), now=now)
    throttling.check_refresh(request)
    try:
        return _rotate(claims, request=request, now=now)
    except TokenExpired:
        raise
    except TokenError:
        throttling.refresh_failed(request)
        raise


def _rotate(claims, *, request, now: datetime) -> TokenPair:
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
        if session.revoked_at is not None and session.revoked_reason == "refresh_reused":
            raise TokenReused()  # the victim's own browser learns why it was signed out
        if session.revoked_at is not None:
            raise _ended(session)
        if claims.ver != versions.of(user):
            raise TokenRevoked()
        if session_deadline(session) <= now:
            raise SessionMaxLifetime()
        if session.expires_at <= now:
            raise TokenExpired()

        fingerprint = client_fingerprint(request)
        if claims.jti == session.current_jti:
            session.previous_jti, session.current_jti = session.current_jti, uuid.uuid4().hex
            session.rotated_at = session.last_used_at = now
            session.rotated_by = fingerprint
            session.expires_at = _capped_expiry(session, now)
            session.rotations += 1
            session.save(
                update_fields=[
                    "previous_jti",
                    "current_jti",
                    "rotated_at",
                    "rotated_by",
                    "last_used_at",
                    "expires_at",
                    "rotations",
                ]
            )
        elif (
            claims.jti == session.previous_jti
            and session.rotated_at is not None
            and now - session.rotated_at <= app_settings.ROTATION_GRACE
            and constant_time_compare(session.rotated_by, fingerprint)
        ):
            # Another tab of the browser that just rotated: handed the current token.
            audit.record(
                AuditEvent.Kind.REFRESH_GRACE,
                user=user,
                request=request,
                session=str(session.pk),
                jti=claims.jti,
            )
        else:
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


def client_fingerprint(request) -> str:
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


def _loaded(user: Any) -> Any:
    """The model instance behind ``request.user``.

    A TokenUser loads its row on first use and checks it against the token;
    that must happen before the row's token_version changes, or the check
    sees the new version and disowns the user half-way through a revocation.
    None if the user is no longer signed in. (Why request.user is a lazy
    object at all: users.py.)
    """
    return model_user(user)


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


def live_session(claims: Claims | None) -> LoginSession | None:
    """The device session ``claims`` name, read from the database now, if it
    is live: not ended, not expired, its user active and at the token's
    version. None otherwise. One query, its user loaded with it.

    What account management checks (the devices page and API, logging
    devices out, the password change), whatever TOKENS_IMMEDIATE_REVOCATION
    says: an ended session keeps a signed access token for up to
    ACCESS_LIFETIME and may read with it, but must not manage the account.
    """
    if claims is None:
        return None
    session = (
        LoginSession.objects.active()
        .select_related("user", *versions.joined("user"))
        .filter(pk=claims.sid, user_id=claims.sub, user__is_active=True)
        .first()
    )
    if session is None or versions.of(session.user) != claims.ver:
        return None
    return session


def log_out_device(request, current: LoginSession, session_id) -> LoginSession:
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


def log_out_other_devices(request, current: LoginSession) -> int:
    """End every session of ``current``'s user except ``current`` itself."""
    others = (
        LoginSession.objects.active()
        .filter(user_id=current.user_id)
        .exclude(pk=current.pk)
        .select_related("user")
    )
    return revocation.revoke_sessions(others, reason="logout_others", actor=current.user, request=request)


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
