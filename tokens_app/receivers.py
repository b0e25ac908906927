"""The app's own receivers: they end sessions when a password changes or an
account is deactivated by any path, and audit failed logins. Connected by
``TokensAppConfig.ready()``."""

from __future__ import annotations

from django.contrib.auth.signals import user_login_failed
from django.db.models.signals import post_save, pre_save

from . import audit
from .models import AuditEvent
from .revocation import bump_token_version


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
    the API alike): a line in the audit trail. The name tried is kept, with
    the account, only if it names one; otherwise only its keyed hash, since
    an unknown "username" is often a password typed into the wrong box.
    Django has masked the password already."""
    from django.contrib.auth import get_user_model

    username = str(credentials.get("username", ""))[:150]
    model = get_user_model()
    user = model._default_manager.filter(**{model.USERNAME_FIELD: username}).first()
    if user is None:
        audit.record(AuditEvent.Kind.LOGIN_FAILED, request=request, username_hash=audit.keyed_hash(username))
    else:
        audit.record(AuditEvent.Kind.LOGIN_FAILED, user=user, request=request, username=username)


def connect(user_model) -> None:
    user_login_failed.connect(_audit_failed_login, dispatch_uid="tokens_app.audit_login_failed")
    pre_save.connect(_remember_deactivation, sender=user_model, dispatch_uid="tokens_app.deactivation")
    post_save.connect(
        _end_sessions_on_password_or_deactivation, sender=user_model, dispatch_uid="tokens_app.password"
    )
