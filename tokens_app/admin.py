"""The admin: token_version on users, "Force logout", device sessions and the audit trail."""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.admin.templatetags.admin_urls import admin_urlname
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from . import flows, revocation, throttling, versions, views
from .cookies import set_auth_cookies
from .models import AuditEvent, LoginSession

# A refresh token's id is half of what a refresh checks: no admin page shows
# it, and no list can be filtered on it (a prefix filter is an oracle that
# reads it out character by character).
_TOKEN_ID_FIELDS = frozenset({"current_jti", "previous_jti", "jti"})


def _probes_a_token_id(lookup: str, *, json_fields: tuple[str, ...] = ()) -> bool:
    """Whether a changelist lookup (``?current_jti__startswith=ab``) reads a
    token id, directly, across a relation, or inside a JSON field that may hold one."""
    parts = lookup.split(LOOKUP_SEP)
    return bool(_TOKEN_ID_FIELDS.intersection(parts)) or parts[0] in json_fields


def _report_logged_out(modeladmin, request: HttpRequest, count: int) -> None:
    modeladmin.message_user(
        request,
        ngettext("%(count)d user was logged out.", "%(count)d users were logged out.", count)
        % {"count": count},
        messages.SUCCESS,
    )


class LoginSessionInline(admin.TabularInline):
    model = LoginSession
    fields = (
        "user_agent",
        "ip_address",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
        "revoked_reason",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-last_used_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class _SessionHashShim:
    """Stands in for ``request.session`` while Django's admin password view
    calls ``update_session_auth_hash``; records whether admins changed their
    own password, so this browser can be kept signed in with fresh tokens."""

    def __init__(self) -> None:
        self.changed_own_password = False

    def cycle_key(self) -> None:
        pass

    def __setitem__(self, key, value) -> None:
        self.changed_own_password = True


class LockedOutFilter(admin.SimpleListFilter):
    """Accounts locked by failed logins right now. The cache cannot be listed,
    so the candidates are the users whose lock was audited within one window,
    each then checked in the cache."""

    title = _("login lockout")
    parameter_name = "locked_out"

    def lookups(self, request, model_admin):
        return [("yes", _("Locked out"))]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        window = throttling.account_counter("").window
        candidates = queryset.filter(
            audit_events__kind=AuditEvent.Kind.THROTTLED,
            audit_events__reason=throttling.LOGIN_ACCOUNT,
            audit_events__created_at__gte=timezone.now() - timedelta(seconds=window),
        ).distinct()
        locked = [user.pk for user in candidates if throttling.lockout_remaining(user) is not None]
        return queryset.filter(pk__in=locked)


class UserAdmin(DjangoUserAdmin):
    """Django's UserAdmin with "Force logout", the login lockout and the device
    sessions. Registered for ``tokens_app.User`` and in place of Django's own for
    ``auth.User``; a project's own user model registers it (docs/install.md)."""

    list_display = (*DjangoUserAdmin.list_display, "is_active", "token_version", "login_lockout")
    list_filter = (LockedOutFilter, *DjangoUserAdmin.list_filter)
    readonly_fields = ("token_version", "login_lockout", "last_login", "date_joined")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Sessions"), {"fields": ("token_version", "login_lockout")}),
    )
    inlines = [LoginSessionInline]
    actions = ["force_logout", "clear_lockout"]
    change_form_template = "admin/tokens_app/user/change_form.html"

    def get_queryset(self, request: HttpRequest):
        # Where the version is a row of its own (auth.User), join it: one query
        # per page. Never select_related() without names: it would join every
        # foreign key (and is deprecated in Django 6.1).
        queryset = super().get_queryset(request)
        joined = versions.joined()
        return queryset.select_related(*joined) if joined else queryset

    @admin.display(description=_("token version"))
    def token_version(self, user) -> int:
        # Read through versions.py: a field on the user, or tokens_app.user_version's row.
        return versions.of(user) if user.pk is not None else 0

    @admin.display(description=_("login lockout"))
    def login_lockout(self, user) -> str:
        if user.pk is None:
            return "-"
        wait = throttling.lockout_remaining(user)
        if wait is None:
            return "-"
        return _("locked for %(wait)s") % {"wait": throttling.wait_text(wait)}

    @admin.action(description=_("Force logout selected users"), permissions=["change"])
    def force_logout(self, request: HttpRequest, queryset) -> None:
        count = flows.force_logout(queryset, actor=request.user, request=request)
        _report_logged_out(self, request, count)

    @admin.action(description=_("Clear login lockout of selected users"), permissions=["change"])
    def clear_lockout(self, request: HttpRequest, queryset) -> None:
        count = sum(throttling.clear_lockout(user, actor=request.user, request=request) for user in queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d locked account was unlocked.", "%(count)d locked accounts were unlocked.", count
            )
            % {"count": count},
            messages.SUCCESS,
        )

    def get_deleted_objects(self, objs, request):
        # Sessions are never deleted on their own in the admin (they are
        # revoked), but a user's go with the user: that ends them too
        # (signals.py), so they need no delete permission of their own.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(LoginSession._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def get_urls(self):
        # Named from the model's own app label and name, as the admin names its
        # views, so the button works for whichever user model the project has.
        opts = self.opts
        return [
            path(
                "<path:object_id>/force-logout/",
                self.admin_site.admin_view(self.force_logout_view),
                name=f"{opts.app_label}_{opts.model_name}_force_logout",
            ),
            *super().get_urls(),
        ]

    def force_logout_view(self, request: HttpRequest, object_id: str):
        return require_POST(self._force_logout_one)(request, object_id)

    def _force_logout_one(self, request: HttpRequest, object_id: str):
        # get_object, as the admin's own change view: a malformed id ("abc")
        # is a missing user (404), not a ValueError (500).
        user = self.get_object(request, unquote(object_id))
        if user is None:
            raise Http404
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        count = flows.force_logout([user], actor=request.user, request=request)
        _report_logged_out(self, request, count)
        change_url = admin_urlname(self.opts, "change")
        return HttpResponseRedirect(reverse(change_url, args=[user.pk], current_app=self.admin_site.name))

    def user_change_password(self, request: HttpRequest, id, form_url=""):
        # With SessionMiddleware, the real session comes back afterwards: the
        # rest of the request (messages kept in the session) needs it.
        real_session = request.__dict__.get("session")
        shim = request.session = _SessionHashShim()
        try:
            response = super().user_change_password(request, id, form_url)
        finally:
            if real_session is None:
                del request.session
            else:
                request.session = real_session
        if shim.changed_own_password:
            me = get_user_model()._default_manager.get(pk=request.user.pk)
            set_auth_cookies(response, flows.reissue_after_password_change(request, me))
        return response


def password_change(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The admin's own "Change password" link, through the site's password change.

    ``AdminSite.password_change`` ends with ``update_session_auth_hash``, which
    needs a server-side session; this one does what the site's page does:
    every session of the user ends, and this browser gets fresh tokens. Mount
    it over the admin's URL: ``path("admin/password_change/", ...)`` before
    ``admin.site.urls``.
    """
    site = admin.site

    def view(request: HttpRequest) -> HttpResponse:
        request.current_app = site.name
        return views.PasswordChangeView.as_view(
            form_class=AdminPasswordChangeForm,
            success_url=reverse("admin:password_change_done", current_app=site.name),
            extra_context={**site.each_context(request), **(extra_context or {})},
            template_name=site.password_change_template or "registration/password_change_form.html",
        )(request)

    return site.admin_view(view)(request)


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

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Revoke, never delete: a revoked row keeps the device ended and in
        # the audit's view; prune_sessions removes old rows.
        return False

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        # Django allows any lookup on a local field, shown or not.
        if _probes_a_token_id(lookup):
            return False
        return super().lookup_allowed(lookup, value, request)

    @admin.action(description=_("Revoke selected sessions"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset) -> None:
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

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        if _probes_a_token_id(lookup, json_fields=("detail",)):
            return False
        return super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
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
