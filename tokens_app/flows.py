"""The business steps: log in, refresh, log out, end sessions.

Views, the API, the middleware, the admin and the commands all call these; a
reader who wants to know "what happens on refresh" reads ``refresh`` below.
The steps live in modules of their own: ``signin`` (a new device session),
``rotation`` (the refresh steps), ``lifetimes`` (how long a session lasts),
``pairs`` (the tokens handed out).
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.middleware.csrf import rotate_token

from . import audit, clock, revocation, rotation, throttling, versions
from .conf import app_settings
from .ending import force_logout, log_out_device, log_out_other_devices
from .exceptions import TokenError, TokenExpired, TokenRevoked
from .lifetimes import max_lifetime, session_deadline
from .models import AuditEvent, LoginSession
from .pairs import TokenPair, issue_pair
from .rotation import client_fingerprint
from .signin import start_session
from .tokens import Claims, issue_refresh, verify_access, verify_refresh
from .users import RequestUser, model_user

# Imported from here by views, the API, the admin and projects: the public names.
__all__ = [
    "TokenPair",
    "client_fingerprint",
    "force_logout",
    "live_session",
    "log_in",
    "log_in_after_django_login",
    "log_out",
    "log_out_device",
    "log_out_everywhere",
    "log_out_other_devices",
    "max_lifetime",
    "reauthenticate",
    "redeem_login_handoff",
    "refresh",
    "refresh_request",
    "reissue_after_password_change",
    "session_deadline",
    "session_id_from",
]


def _now(now: datetime | None) -> datetime:
    return now or clock.now()


def log_in(
    request: HttpRequest | None, user: AbstractBaseUser, *, now: datetime | None = None, remember: bool = True
) -> TokenPair:
    """Start a device session for an authenticated ``user`` and mint its tokens.

    ``remember`` False: browser-session cookies and the shorter maximum lifetime.
    """
    pair = start_session(request, user, now=_now(now), remember=remember)
    if request is not None:
        # As django.contrib.auth.login does: a CSRF token planted before
        # login (by a sibling subdomain, say) is not good after it.
        rotate_token(request)
    # Django's own receiver updates last_login; other apps may listen too.
    # ``tokens_pair`` tells our receiver (receivers.py) this login has its
    # tokens already, so it does not start a second session.
    user_logged_in.send(sender=user.__class__, request=request, user=user, tokens_pair=pair)
    return pair


def log_in_after_django_login(request: HttpRequest, user: AbstractBaseUser) -> TokenPair:
    """The tokens for a login made by ``django.contrib.auth.login()`` (the
    stock admin login, DRF's browsable API, allauth), which has rotated the
    CSRF token and sent ``user_logged_in`` itself."""
    return start_session(request, user, now=_now(None))


def redeem_login_handoff(
    session_id: str, *, request: HttpRequest | None = None, now: datetime | None = None
) -> TokenPair:
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
    except (ValidationError, ValueError):  # an id from a Django session: anything
        session = None
    if session is None:
        raise TokenRevoked()
    first = issue_refresh(session.user, session_id=session.pk, jti=session.current_jti, now=now)
    return refresh(first.token, request=request, now=now)


def refresh(
    raw_refresh: str | None, *, request: HttpRequest | None = None, now: datetime | None = None
) -> TokenPair:
    """Rotate a refresh token: new access and refresh tokens, the old one retired.

    Honoured only if the signature, type and expiry hold, the user is active,
    ``ver`` equals the user's token_version, the device session is neither
    revoked nor expired, and the token is the session's current one.

    The session's previous token is answered with the current one, never a
    new branch of the chain, but only for the client that rotated (same
    network and User-Agent, ``client_fingerprint``) and only while the
    successor has not come back: for ROTATION_GRACE (two tabs refreshing at
    once), then up to LOST_RESPONSE_WINDOW after the rotation (an answer that
    never arrived; docs/sessions.md, "Lost responses"). Each such answer is
    audited. Any other retired token is reuse, which ends the session.

    Cost: the locked read, then the rotation's UPDATE or the audit row; one commit.
    """
    now = _now(now)
    claims = verify_refresh(raw_refresh, now=now)
    fingerprint = client_fingerprint(request)
    with transaction.atomic():
        session = rotation.lock_session(claims)
        rotation.ensure_live(session, claims, now=now)
        if claims.jti == session.current_jti:
            rotation.rotate(session, now=now, by=fingerprint)
            return issue_pair(session.user, session, now=now)
        retry = rotation.retry_kind(session, claims, now=now, fingerprint=fingerprint)
        if retry is not None:
            rotation.record_retry(session, claims, retry, request=request)
            return issue_pair(session.user, session, now=now)
    # Outside the lock's transaction: ending the session commits on its own,
    # and its signals follow that commit.
    raise rotation.end_for_reuse(session, claims, request=request)


def refresh_request(
    request: HttpRequest, *, raw: str | None = None, now: datetime | None = None
) -> TokenPair:
    """Refresh from the request's refresh cookie (or ``raw``, the token a
    native app sent in the body), behind the per-client limit.

    The one place for "throttle check -> refresh -> count the failure", for
    the middleware's silent refresh, the API and the app API alike. Raises a TokenError,
    or throttling.RateLimited (the session is not touched, so the token is
    not spent). Only a token that verifies, signed by us, and is then refused
    (revoked, reused, an ended session, an inactive user) is counted: a
    cookie whose signature does not verify is refused before the limit is
    even read, costs no query and counts for nothing, so a flood of junk
    cannot block the refreshes of everyone who shares the flooder's address.
    Expired tokens are genuine (a return after a break) and not counted.
    """
    now = _now(now)
    if raw is None:
        raw = request.COOKIES.get(app_settings.REFRESH_COOKIE)
    verify_refresh(raw, now=now)  # junk is refused before the limit is read
    throttling.check_refresh(request)
    try:
        # Verified again inside: a memo hit (tokens._signed_claims).
        return refresh(raw, request=request, now=now)
    except TokenExpired:
        raise
    except TokenError:
        throttling.refresh_failed(request)
        raise


def session_id_from(request: HttpRequest) -> str | None:
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


def log_out(request: HttpRequest, *, reason: str = "logout") -> None:
    """End this device's session, and record the logout. Cookies are cleared
    by the caller's response."""
    sid = session_id_from(request)
    if sid is None:
        return
    session = LoginSession.objects.select_related("user").filter(pk=sid).first()
    if session is None:
        return
    if revocation.revoke_session(session, reason=reason, actor=session.user, request=request):
        audit.record(
            AuditEvent.Kind.LOGOUT, user=session.user, reason=reason, request=request, session=str(session.pk)
        )


def _loaded(user: RequestUser) -> AbstractBaseUser | None:
    """The model instance behind ``request.user``.

    A TokenUser loads its row on first use and checks it against the token;
    that must happen before the row's token_version changes, or the check
    sees the new version and disowns the user half-way through a revocation.
    None if the user is no longer signed in. (Why request.user is a lazy
    object at all: users.py.)
    """
    return model_user(user)


def log_out_everywhere(request: HttpRequest | None, user: RequestUser) -> int:
    """End every session of ``user``, this one included."""
    loaded = _loaded(user)
    if loaded is None:
        return 0  # its sessions have already been ended
    return revocation.bump_token_version(loaded, reason="logout_all", actor=loaded, request=request)


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


def reissue_after_password_change(request: HttpRequest, user: AbstractBaseUser) -> TokenPair:
    """Keep this browser signed in after its own password change ended every
    session (what ``update_session_auth_hash`` does for Django sessions)."""
    session_id = session_id_from(request)
    current = None
    if session_id is not None:  # no device session: no query
        current = LoginSession.objects.filter(pk=session_id).only("persistent").first()
    return log_in(request, user, remember=current.persistent if current is not None else True)


def reauthenticate(request: HttpRequest, user: AbstractBaseUser, *, now: datetime | None = None) -> TokenPair:
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
        session.auth_time = now
        rotation.advance(session, now=now, by=client_fingerprint(request), fields=("auth_time",))
    audit.record(AuditEvent.Kind.REAUTHENTICATED, user=user, request=request, session=str(session.pk))
    return issue_pair(user, session, now=now)
