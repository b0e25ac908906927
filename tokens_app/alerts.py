"""New-device alerts: a mail when an account signs in from a device it has not
used before, with a single-use "This wasn't me" link that ends that session.

"A device" is the browser and system (``devices.describe``: "Firefox on
Linux", no version, so an update is not a new device) together with the
client's network (``devices.network_of``: its /24 or /48, so DHCP is not
either). The first sign-in of an account sends nothing: there is nothing to
compare with, and the owner has just created it. Mails are limited per user
(TOKENS_NEW_DEVICE_ALERT_RATE), so a password-stuffing run that succeeds
cannot flood a mailbox, and TOKENS_NEW_DEVICE_ALERTS turns them off.

The link is signed (``django.core.signing``, its own salt) and names one
device session; it asks for a POST before acting, because mail scanners open
links. Templates, overridable the Django way:
``tokens_app/email/new_device_subject.txt`` and ``.../new_device_body.txt``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import Enum

from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db.models import Count, Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from . import audit, clock, revocation
from .conf import app_settings
from .models import AuditEvent, LoginSession
from .signals import new_device_signed_in
from .throttling import Counter

logger = logging.getLogger(__name__)

_SALT = "tokens_app.alerts.not_me"
ALERT_SCOPE = "new_device_alert"


class Report(Enum):
    """What following a "This wasn't me" link did."""

    ENDED = "ended"  # the session was ended now
    ALREADY_USED = "already_used"  # the link had been followed before
    INVALID = "invalid"  # forged, expired or naming no session


def report_token(session: LoginSession) -> str:
    """The signed value in the "This wasn't me" link of ``session``."""
    return signing.dumps({"sid": str(session.pk)}, salt=_SALT, compress=True)


def _alert_counter(user: AbstractBaseUser) -> Counter:
    return Counter.for_rate(ALERT_SCOPE, str(user.pk), app_settings.NEW_DEVICE_ALERT_RATE)


def _is_new_device(session: LoginSession) -> bool:
    """True if the account has signed in before, never from this device and network.

    The session rows answer first (one query, the usual case: a device that
    is still, or was recently, signed in); rows that prune_sessions deleted
    are remembered by the audit trail's login events, which name the device
    and network.
    """
    seen = (
        LoginSession.objects.filter(user_id=session.user_id)
        .exclude(pk=session.pk)
        .aggregate(
            earlier=Count("pk"),
            same=Count("pk", filter=Q(user_agent=session.user_agent, network=session.network)),
        )
    )
    if seen["same"]:
        return False
    logins = AuditEvent.objects.filter(user_id=session.user_id, kind=AuditEvent.Kind.LOGIN).exclude(
        detail__session=str(session.pk)
    )
    if not seen["earlier"] and not logins.exists():
        return False  # the account's first sign-in
    return not logins.filter(detail__device=session.user_agent, detail__network=session.network).exists()


def notify_if_new_device(
    request: HttpRequest | None, session: LoginSession, *, now: datetime | None = None
) -> bool:
    """Mail the account's owner if ``session`` is a sign-in from a new device.

    Called by ``flows.log_in``. Returns whether a mail went out. A mail server
    that fails is logged, never a failed sign-in.
    """
    user = session.user
    if not app_settings.NEW_DEVICE_ALERTS or request is None:
        return False
    if not _is_new_device(session):
        return False
    new_device_signed_in.send(sender=LoginSession, user=user, session=session, request=request)
    if not getattr(user, "email", ""):
        return False
    counter = _alert_counter(user)
    if app_settings.THROTTLE_ENABLED:
        if counter.retry_after() is not None:
            logger.info("new-device alert throttled user_id=%s session=%s", user.pk, session.pk)
            return False
        counter.hit()
    context = {
        "user": user,
        "device": session.user_agent or "Unknown device",
        "network": session.network or "unknown network",
        "ip_address": session.ip_address or "",
        "when": now or session.created_at,
        "report_url": request.build_absolute_uri(reverse("report_session", args=[report_token(session)])),
        "reset_url": request.build_absolute_uri(reverse("password_reset")),
        "site_name": request.get_host(),
    }
    subject = "".join(render_to_string("tokens_app/email/new_device_subject.txt", context).splitlines())
    body = render_to_string("tokens_app/email/new_device_body.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except Exception:
        logger.exception("new-device alert not sent user_id=%s session=%s", user.pk, session.pk)
        return False
    audit.record(
        AuditEvent.Kind.NEW_DEVICE_ALERT,
        user=user,
        request=request,
        session=str(session.pk),
        device=session.user_agent,
        network=session.network,
    )
    return True


def session_for_report(token: str) -> LoginSession | None:
    """The session a "This wasn't me" token names, if it is genuine and unexpired."""
    try:
        value = signing.loads(token, salt=_SALT, max_age=app_settings.NEW_DEVICE_LINK_MAX_AGE)
        return LoginSession.objects.select_related("user").filter(pk=value["sid"]).first()
    except (signing.BadSignature, KeyError, TypeError, ValueError, ValidationError):
        # Forged, expired, or (signed by us with another salt's shape) no UUID.
        return None


def end_reported_session(
    token: str, *, request: HttpRequest | None = None
) -> tuple[Report, LoginSession | None]:
    """Follow a "This wasn't me" link: end exactly that device session, once."""
    session = session_for_report(token)
    if session is None:
        return Report.INVALID, None
    first = LoginSession.objects.filter(pk=session.pk, reported_at__isnull=True).update(
        reported_at=clock.now()
    )
    if not first:
        return Report.ALREADY_USED, session
    audit.record(
        AuditEvent.Kind.SESSION_REPORTED,
        user=session.user,
        request=request,
        session=str(session.pk),
        device=session.user_agent,
        network=session.network,
    )
    revocation.revoke_session(session, reason="reported", request=request)
    logger.warning("session reported as not the owner user_id=%s session=%s", session.user_id, session.pk)
    return Report.ENDED, session
