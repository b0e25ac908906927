"""Security events other apps can hook, and the receivers that end sessions
when a password changes or an account is deactivated by any path."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by revocation.bump_token_version: every session of ``user`` has ended.
# Arguments: user, reason, actor, version (the new token_version).
tokens_revoked = Signal()

# Sent when a retired refresh token was presented after the grace window.
# Arguments: user, session, request.
refresh_token_reused = Signal()

# Sent when one device session is ended. Arguments: session, reason, actor.
session_revoked = Signal()

# Sent when an account signs in from a device and network it has not used
# before (alerts.py, while TOKENS_NEW_DEVICE_ALERTS is on), whether or not the
# mail can go out (no address, throttled). Arguments: user, session, request.
new_device_signed_in = Signal()


def _remember_deactivation(sender, instance, raw=False, **kwargs) -> None:
    """pre_save: note whether this save deactivates a user who is active now."""
    instance._tokens_deactivating = bool(
        not raw
        and instance.pk is not None
        and not instance.is_active
        and sender._default_manager.filter(pk=instance.pk, is_active=True).exists()
    )


def _end_sessions_on_password_or_deactivation(sender, instance, created, raw=False, **kwargs) -> None:
    """post_save: a new password or a deactivation, by any path (forms, the
    admin, ``changepassword``, ``set_password()`` + ``save()`` in a shell),
    ends every session of the user."""
    from .revocation import bump_token_version

    if created or raw:
        return
    if getattr(instance, "_password", None) is not None:
        # Views that know more (a reset by email) say so; any other path is a change.
        reason = getattr(instance, "_tokens_revoke_reason", "password_changed")
        bump_token_version(instance, reason=reason)
    elif getattr(instance, "_tokens_deactivating", False):
        bump_token_version(instance, reason="deactivated")
    instance._tokens_deactivating = False


def _audit_failed_login(sender, credentials, request=None, **kwargs) -> None:
    """user_login_failed (sent by ``authenticate()``, for the login page and
    the API alike): a line in the audit trail with the name that was tried.
    Only the username is kept; Django has masked the password already."""
    from . import audit
    from .models import AuditEvent

    username = str(credentials.get("username", ""))[:150]
    audit.record(AuditEvent.Kind.LOGIN_FAILED, request=request, username=username)


def connect_receivers(user_model) -> None:
    from django.contrib.auth.signals import user_login_failed
    from django.db.models.signals import post_save, pre_save

    user_login_failed.connect(_audit_failed_login, dispatch_uid="tokens_app.audit_login_failed")

    pre_save.connect(_remember_deactivation, sender=user_model, dispatch_uid="tokens_app.deactivation")
    post_save.connect(
        _end_sessions_on_password_or_deactivation, sender=user_model, dispatch_uid="tokens_app.password"
    )
