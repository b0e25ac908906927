"""The admin: device sessions and the audit trail; the user admin is user_admin.py.

``UserAdmin`` and ``password_change`` are importable from here (docs/install.md).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import revocation
from .models import AuditEvent, LoginSession
from .user_admin import UserAdmin, password_change

__all__ = ["UserAdmin", "password_change"]

# A refresh token's id is half of what a refresh checks: no admin page shows
# it, and no list can be filtered on it (a prefix filter is an oracle that
# reads it out character by character).
_TOKEN_ID_FIELDS = frozenset({"current_jti", "previous_jti", "jti"})


def _probes_a_token_id(lookup: str, *, json_fields: tuple[str, ...] = ()) -> bool:
    """Whether a changelist lookup (``?current_jti__startswith=ab``) reads a
    token id, directly, across a relation, or inside a JSON field that may hold one."""
    parts = lookup.split(LOOKUP_SEP)
    return bool(_TOKEN_ID_FIELDS.intersection(parts)) or parts[0] in json_fields


@admin.register(LoginSession)
class LoginSessionAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "user_agent",
        "ip_address",
        "created_at",
        "last_used_at",
        "expires_at",
        "persistent",
        "revoked_at",
        "revoked_reason",
    )
    list_filter = ("revoked_reason", "persistent", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "user__email", "ip_address")
    readonly_fields = [
        f.name for f in LoginSession._meta.fields if f.name not in ("current_jti", "previous_jti")
    ]
    exclude = ("current_jti", "previous_jti")
    date_hierarchy = "created_at"
    actions = ["revoke"]
    list_select_related = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoke, never delete: a revoked row keeps the device ended and in
        # the audit's view; prune_sessions removes old rows.
        return False

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # Django allows any lookup on a local field, shown or not.
        if _probes_a_token_id(lookup):
            return False
        return super().lookup_allowed(lookup, value, request)

    @admin.action(description=_("Revoke selected sessions"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[LoginSession]) -> None:
        count = revocation.revoke_sessions(
            queryset.select_related("user"), reason="admin", actor=request.user, request=request
        )
        self.message_user(
            request,
            ngettext("%(count)d session was revoked.", "%(count)d sessions were revoked.", count)
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "user", "actor", "reason", "ip_address")
    list_filter = ("kind", ("user", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("user__username", "actor__username", "reason", "ip_address")
    date_hierarchy = "created_at"
    list_select_related = ("user", "actor")
    ordering = ("-created_at", "-id")
    fields = ("created_at", "kind", "user", "actor", "reason", "ip_address", "details")
    readonly_fields = fields

    @admin.display(description=_("detail"))
    def details(self, event: AuditEvent) -> str:
        # A reused token's jti stays in the log line and the row, for
        # correlating; the admin shows the rest.
        shown = {key: value for key, value in event.detail.items() if key not in _TOKEN_ID_FIELDS}
        return json.dumps(shown, sort_keys=True) if shown else "-"

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        if _probes_a_token_id(lookup, json_fields=("detail",)):
            return False
        return super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _register_user_admin() -> None:
    user_model = get_user_model()
    if user_model._meta.label == "tokens_app.User":
        admin.site.register(user_model, UserAdmin)
    elif user_model._meta.label == "auth.User":
        # Django's auth app registers its own UserAdmin when its admin module
        # is imported (after ours, when tokens_app comes first): import it now,
        # then take its place, keeping any other admin the project put there.
        import django.contrib.auth.admin  # noqa: F401

        try:
            current = admin.site.get_model_admin(user_model)
        except NotRegistered:
            current = None
        if current is None or type(current) is DjangoUserAdmin:
            if current is not None:
                admin.site.unregister(user_model)
            admin.site.register(user_model, UserAdmin)


_register_user_admin()
