"""The user admin: token_version, "Force logout", the login lockout and the device sessions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.admin.utils import unquote
from django.contrib.auth import HASH_SESSION_KEY, get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.signed_cookies import SessionStore as ThrowawaySession
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from . import flows, throttling, versions, views
from .cookies import set_auth_cookies
from .models import AuditEvent, LoginSession


def _report_logged_out(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, count: int) -> None:
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

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LockedOutFilter(admin.SimpleListFilter):
    """Accounts locked by failed logins right now. The cache cannot be listed,
    so the candidates are the users whose lock was audited within one window,
    each then checked in the cache."""

    title = _("login lockout")
    parameter_name = "locked_out"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, Any]]:
        return [("yes", _("Locked out"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
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

    # django-stubs types list_display as a generic instance variable.
    list_display = (*DjangoUserAdmin.list_display, "is_active", "token_version", "login_lockout")  # type: ignore[misc]
    list_filter = (LockedOutFilter, *DjangoUserAdmin.list_filter)
    readonly_fields = ("token_version", "login_lockout", "last_login", "date_joined")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (_("Sessions"), {"fields": ("token_version", "login_lockout")}),
    )
    inlines = [LoginSessionInline]
    actions = ["force_logout", "clear_lockout"]
    change_form_template = "admin/tokens_app/user/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # Where the version is a row of its own (auth.User), join it: one query
        # per page. Never select_related() without names: it would join every
        # foreign key (and is deprecated in Django 6.1).
        queryset = super().get_queryset(request)
        joined = versions.joined()
        return queryset.select_related(*joined) if joined else queryset

    @admin.display(description=_("token version"))
    def token_version(self, user: AbstractBaseUser) -> int:
        # Read through versions.py: a field on the user, or tokens_app.user_version's row.
        return versions.of(user) if user.pk is not None else 0

    @admin.display(description=_("login lockout"))
    def login_lockout(self, user: AbstractBaseUser) -> str:
        if user.pk is None:
            return "-"
        wait = throttling.lockout_remaining(user)
        if wait is None:
            return "-"
        return _("locked for %(wait)s") % {"wait": throttling.wait_text(wait)}

    @admin.action(description=_("Force logout selected users"), permissions=["change"])
    def force_logout(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        count = flows.force_logout(queryset, actor=request.user, request=request)
        _report_logged_out(self, request, count)

    @admin.action(description=_("Clear login lockout of selected users"), permissions=["change"])
    def clear_lockout(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        count = sum(throttling.clear_lockout(user, actor=request.user, request=request) for user in queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d locked account was unlocked.", "%(count)d locked accounts were unlocked.", count
            )
            % {"count": count},
            messages.SUCCESS,
        )

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], Any]:
        # Sessions are never deleted on their own in the admin (they are
        # revoked), but a user's go with the user: that ends them too
        # (signals.py), so they need no delete permission of their own.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(LoginSession._meta.verbose_name)  # type: ignore[arg-type]  # the admin's own lazy name
        return deleted, counts, perms_needed, protected

    def get_urls(self) -> list[URLPattern]:
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

    def force_logout_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._force_logout_one)(request, object_id)

    def _force_logout_one(self, request: HttpRequest, object_id: str) -> HttpResponse:
        # get_object, as the admin's own change view: a malformed id ("abc")
        # is a missing user (404), not a ValueError (500).
        user = self.get_object(request, unquote(object_id))
        if user is None:
            raise Http404
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        count = flows.force_logout([user], actor=request.user, request=request)
        _report_logged_out(self, request, count)
        change_url = f"admin:{self.opts.app_label}_{self.opts.model_name}_change"
        return HttpResponseRedirect(reverse(change_url, args=[user.pk], current_app=self.admin_site.name))

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        # Django's view ends with update_session_auth_hash(), written for
        # sign-in by server-side session, which this site does not use: it
        # gets a throwaway session (the signed-cookie engine: no storage, and
        # never sent), and whether the hash was written into it tells that
        # admins changed their own password, so this browser is kept signed in
        # with fresh tokens. With SessionMiddleware, the real session comes
        # back afterwards: the rest of the request (messages) needs it.
        real_session = request.__dict__.get("session")
        request.session = throwaway = ThrowawaySession()
        try:
            response = super().user_change_password(request, id, form_url)
        finally:
            if real_session is None:
                del request.session
            else:
                request.session = real_session
        if HASH_SESSION_KEY in throwaway:
            assert request.user.pk is not None  # the admin's views need a signed-in user
            me = get_user_model()._default_manager.get(pk=request.user.pk)
            set_auth_cookies(response, flows.reissue_after_password_change(request, me))
        return response


def password_change(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponseBase:
    """The admin's own "Change password" link, through the site's password change.

    ``AdminSite.password_change`` ends with ``update_session_auth_hash``, which
    needs a server-side session; this one does what the site's page does:
    every session of the user ends, and this browser gets fresh tokens. Mount
    it over the admin's URL: ``path("admin/password_change/", ...)`` before
    ``admin.site.urls``.
    """
    site = admin.site

    def view(request: HttpRequest) -> HttpResponseBase:
        request.current_app = site.name
        return views.PasswordChangeView.as_view(
            form_class=AdminPasswordChangeForm,
            success_url=reverse("admin:password_change_done", current_app=site.name),
            extra_context={**site.each_context(request), **(extra_context or {})},
            template_name=site.password_change_template or "registration/password_change_form.html",
        )(request)

    return site.admin_view(view)(request)
