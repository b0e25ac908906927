"""The app's own receivers: they end sessions when a password changes or an
account is deactivated by any path, give ``django.contrib.auth.login()`` our
cookies (and ``logout()`` ends the device), and audit failed logins.
Connected by ``TokensAppConfig.ready()``."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save, pre_save

from . import audit, flows, middleware
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
    the API alike): a line in the audit trail with the name that was tried.
    Only the username is kept; Django has masked the password already."""
    username = str(credentials.get("username", ""))[:150]
    audit.record(AuditEvent.Kind.LOGIN_FAILED, request=request, username=username)


def _tokens_for_django_login(sender, request, user, **kwargs) -> None:
    """user_logged_in: whoever called ``django.contrib.auth.login()`` (the
    stock admin login, DRF's browsable API, allauth) gets a device session,
    and the middleware sets our cookies on that response."""
    if "tokens_pair" in kwargs or request is None:
        return  # sent by flows.log_in, whose caller sets the cookies
    middleware.deliver_tokens(request, flows.log_in_after_django_login(request, user))


def _end_device_on_django_logout(sender, request, user, **kwargs) -> None:
    """user_logged_out: ``django.contrib.auth.logout()`` ends this device's
    session too, and the middleware clears our cookies."""
    if request is not None:
        middleware.forget_tokens(request)


def connect(user_model) -> None:
    user_login_failed.connect(_audit_failed_login, dispatch_uid="tokens_app.audit_login_failed")
    user_logged_in.connect(_tokens_for_django_login, dispatch_uid="tokens_app.django_login")
    user_logged_out.connect(_end_device_on_django_logout, dispatch_uid="tokens_app.django_logout")
    pre_save.connect(_remember_deactivation, sender=user_model, dispatch_uid="tokens_app.deactivation")
    post_save.connect(
        _end_sessions_on_password_or_deactivation, sender=user_model, dispatch_uid="tokens_app.password"
    )
