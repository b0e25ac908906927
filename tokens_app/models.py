from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TokenVersionMixin(models.Model):
    """``token_version`` and the save() guard that protects it, for a user model.

    Add it to the bases of your own user model (``class User(TokenVersionMixin,
    AbstractUser)``) or build on ``AbstractTokenUser``. Every token carries the
    version it was issued at; ``revocation.bump_token_version`` ends every
    session of the user by raising it by one.
    """

    token_version = models.PositiveIntegerField(
        _("token version"),
        default=0,
        editable=False,
        help_text=_("Raised by one to end every session of this user."),
    )

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Only revocation.bump_token_version writes token_version, with an
        # atomic UPDATE. A plain save() of an instance loaded before a bump
        # would otherwise write the old number back and revive every session.
        if self.pk is not None and not self._state.adding:
            update_fields = kwargs.get("update_fields")
            if update_fields is None:
                update_fields = [field.name for field in self._meta.concrete_fields if not field.primary_key]
            kwargs["update_fields"] = [name for name in update_fields if name != "token_version"]
        super().save(*args, **kwargs)

    def check_password(self, raw_password: str | None) -> bool:
        # A correct password may be re-hashed and saved on the spot (a newer
        # hasher or more iterations): the same password under a new hash,
        # which must not end the user's sessions (signals.py compares hashes).
        self._tokens_rehashing = True
        try:
            # A mixin: the user model's other base (AbstractBaseUser) has check_password.
            return super().check_password(raw_password)  # type: ignore[misc]
        finally:
            self._tokens_rehashing = False


class AbstractTokenUser(TokenVersionMixin, AbstractUser):
    """Django's ``AbstractUser`` with ``token_version``: the base for a project's own user."""

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]  # django-stubs omits Meta
        abstract = True


class User(AbstractTokenUser):  # noqa: DJ008 (AbstractBaseUser.__str__ is the username)
    """The ready-made user (``AUTH_USER_MODEL = "tokens_app.User"``). Swappable,
    as ``auth.User`` is: with another AUTH_USER_MODEL it creates no table."""

    class Meta(AbstractTokenUser.Meta):
        swappable = "AUTH_USER_MODEL"


class LoginSessionQuerySet(models.QuerySet):
    def active(self, *, now: datetime | None = None) -> LoginSessionQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())


class LoginSession(models.Model):
    """One signed-in device: what a refresh token names in its ``sid`` claim."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_sessions"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    user_agent = models.CharField(_("device"), max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    # The refresh chain: the token whose jti is current_jti is the only one a
    # refresh accepts; previous_jti is honoured for ROTATION_GRACE after
    # rotated_at, so two tabs refreshing together are not taken for theft.
    current_jti = models.CharField(max_length=64)
    previous_jti = models.CharField(max_length=64, blank=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    # A fingerprint of the client that rotated (its network and User-Agent,
    # flows.client_fingerprint): only that client is answered within the
    # grace window; the previous token from anywhere else is reuse.
    rotated_by = models.CharField(max_length=64, blank=True)
    rotations = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_reason = models.CharField(_("reason"), max_length=40, blank=True)
    # Session policies (docs/sessions.md). "Remember me": persistent cookies
    # and SESSION_MAX_LIFETIME, else browser-session cookies and the shorter
    # BROWSER_SESSION_MAX_LIFETIME, both counted from created_at.
    persistent = models.BooleanField(_("remembered"), default=True)
    # The last time the password was typed on this device (sign-in or
    # re-authentication); null means created_at.
    auth_time = models.DateTimeField(_("password last confirmed"), null=True, blank=True)
    # The client's network (/24 or /48): with user_agent, what "a device the
    # account has used before" means for new-device alerts.
    network = models.CharField(_("network"), max_length=64, blank=True)
    # When "This wasn't me" was followed from the alert mail: the link works once.
    reported_at = models.DateTimeField(_("reported"), null=True, blank=True)

    objects = LoginSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("login session")
        ordering = ["-last_used_at"]
        indexes = [
            models.Index(fields=["user", "revoked_at"]),
            models.Index(fields=["expires_at"]),
            models.Index(fields=["revoked_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.user_agent or 'unknown device'}"


class AuditEvent(models.Model):
    """The security audit trail, readable in the admin. Never holds a token."""

    class Kind(models.TextChoices):
        LOGIN = "login", _("Login")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOGOUT = "logout", _("Logout")
        REVOKED = "revoked", _("All sessions ended")
        SESSION_REVOKED = "session_revoked", _("Session ended")
        REFRESH_REUSED = "refresh_reused", _("Refresh token reuse detected")
        REFRESH_GRACE = "refresh_grace", _("Previous refresh token answered (rotation grace)")
        PASSWORD_RESET_REQUESTED = "password_reset_requested", _("Password reset requested")
        THROTTLED = "throttled", _("Throttled")
        LOCKOUT_CLEARED = "lockout_cleared", _("Lockout cleared")
        REAUTHENTICATED = "reauthenticated", _("Password confirmed")
        NEW_DEVICE_ALERT = "new_device_alert", _("New-device alert sent")
        SESSION_REPORTED = "session_reported", _("Sign-in reported as not the owner")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.user or ''}".strip()
