"""The app's own receivers: they end sessions when a password changes or an
account is deactivated by any path, give ``django.contrib.auth.login()`` our
cookies (and ``logout()`` ends the device), and audit failed logins.
Connected by ``TokensAppConfig.ready()``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models import Model
from django.db.models.signals import post_delete, post_save, pre_save
from django.http import HttpRequest

from . import audit, flows, middleware
from .models import AuditEvent, LoginSession
from .revocation import bump_token_version, session_deleted


def _remember_stored_state(
    sender: type[Model], instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    """pre_save: note whether this save replaces the stored password hash, or
    deactivates a user who is active now, by comparing with the row as stored.

    The stored hash, not ``instance._password``: ``set_unusable_password()``
    (the admin's "Password-based authentication: disabled") and a hash
    assigned directly leave ``_password`` unset but must end sessions too.
    One query, and none for saves that write neither field (``last_login``).
    """
    instance._tokens_password_changed = instance._tokens_deactivating = False
    if raw or instance.pk is None or instance._state.adding:
        return
    fields = None if update_fields is None else set(update_fields)
    if fields is not None and not fields & {"password", "is_active"}:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", "is_active").first()
    if stored is None:
        return
    password, is_active = stored
    instance._tokens_password_changed = (
        (fields is None or "password" in fields)
        and instance.password != password
        and not getattr(instance, "_tokens_rehashing", False)
    )
    instance._tokens_deactivating = (fields is None or "is_active" in fields) and (
        is_active and not instance.is_active
    )


def _end_sessions_on_password_or_deactivation(
    sender: type[Model], instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """post_save: a new password hash or a deactivation, by any path (forms,
    the admin, ``changepassword``, ``set_password()`` or
    ``set_unusable_password()`` + ``save()`` in a shell), ends every session
    of the user."""
    if created or raw:
        return
    if getattr(instance, "_tokens_password_changed", False):
        # Views that know more (a reset by email) say so; any other path is a change.
        reason = getattr(instance, "_tokens_revoke_reason", "password_changed")
        bump_token_version(instance, reason=reason)
    elif getattr(instance, "_tokens_deactivating", False):
        bump_token_version(instance, reason="deactivated")
    instance._tokens_password_changed = instance._tokens_deactivating = False


def _audit_failed_login(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
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


def _end_deleted_session(sender: type[Model], instance: Any, **kwargs: Any) -> None:
    """post_delete of a device session, alone or with its user: it has ended."""
    session_deleted(instance)


def _tokens_for_django_login(
    sender: type, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any
) -> None:
    """user_logged_in: whoever called ``django.contrib.auth.login()`` (the
    stock admin login, DRF's browsable API, allauth) gets a device session,
    and the middleware sets our cookies on that response."""
    if "tokens_pair" in kwargs or request is None:
        return  # sent by flows.log_in, whose caller sets the cookies
    middleware.deliver_tokens(request, flows.log_in_after_django_login(request, user))


def _end_device_on_django_logout(
    sender: type, request: HttpRequest | None, user: AbstractBaseUser | None, **kwargs: Any
) -> None:
    """user_logged_out: ``django.contrib.auth.logout()`` ends this device's
    session too, and the middleware clears our cookies."""
    if request is not None:
        middleware.forget_tokens(request)


def connect(user_model: type[Model]) -> None:
    user_login_failed.connect(_audit_failed_login, dispatch_uid="tokens_app.audit_login_failed")
    user_logged_in.connect(_tokens_for_django_login, dispatch_uid="tokens_app.django_login")
    user_logged_out.connect(_end_device_on_django_logout, dispatch_uid="tokens_app.django_logout")
    pre_save.connect(_remember_stored_state, sender=user_model, dispatch_uid="tokens_app.deactivation")
    post_save.connect(
        _end_sessions_on_password_or_deactivation, sender=user_model, dispatch_uid="tokens_app.password"
    )
    post_delete.connect(_end_deleted_session, sender=LoginSession, dispatch_uid="tokens_app.session_deleted")
