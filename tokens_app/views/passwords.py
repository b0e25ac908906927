"""Changing and resetting a password: Django's views, ending sessions."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic.edit import FormView

from tokens_app import audit, background, flows, throttling, versions
from tokens_app.cookies import clear_auth_cookies, set_auth_cookies
from tokens_app.models import AuditEvent
from tokens_app.reauth import reauthentication_required
from tokens_app.request_attrs import token_claims

from .account import session_ended
from .forms import DeferredPasswordResetForm

if TYPE_CHECKING:
    from django.contrib.auth.models import _User

logger = logging.getLogger(__name__)


class ResetTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset token, also void once the user's sessions were ended.

    Django's token already dies when the password changes (so a link works
    once); including token_version also kills links mailed before a force
    logout or "log out everywhere".
    """

    # Unchanged since views.py was one module: links already mailed stay good.
    key_salt = "tokens_app.views.ResetTokenGenerator"

    def _make_hash_value(self, user: _User, timestamp: int) -> str:
        return f"{super()._make_hash_value(user, timestamp)}{versions.of(user)}"


reset_token_generator = ResetTokenGenerator()


@method_decorator(reauthentication_required, name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    """Changing the password ends every session, then keeps this browser signed in."""

    success_url = reverse_lazy("password_change_done")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Django's dispatch (login_required, CSRF, sensitive parameters) runs
        # for signed-in users whose session is live; an ended one is signed out.
        if request.user.is_authenticated and flows.live_session(token_claims(request)) is None:
            return session_ended(request)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        # form.save() -> user.save() with a new password: the post_save
        # receiver in signals.py bumps token_version (ends all sessions).
        user = form.save()
        pair = flows.reissue_after_password_change(self.request, user)
        messages.success(
            self.request, _("Your password was changed. You were logged out on every other device.")
        )
        response = HttpResponseRedirect(self.get_success_url())
        set_auth_cookies(response, pair)
        return response


@method_decorator(login_not_required, name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request, limited per address and per client IP.

    Over a limit nothing is sent, and the page is the same "check your email"
    as always: no mailbox can be bombed and no address is confirmed.
    """

    token_generator = reset_token_generator
    success_url = reverse_lazy("password_reset_done")
    form_class = DeferredPasswordResetForm

    def form_valid(self, form: Any) -> HttpResponse:
        if not throttling.password_reset_allowed(self.request, form.cleaned_data["email"]):
            return HttpResponseRedirect(self.get_success_url())
        response = super().form_valid(form)  # form.save(): the accounts, their mail prepared
        # What is done only for real accounts is done once the answer has
        # gone out (the server closes the response after sending it), so the
        # answer's timing cannot tell: the audit rows, then the mail, on the
        # background thread. Whether an account was found or not, the same
        # task is queued. (_resource_closers: Django's private list of what
        # close() runs, undeclared by django-stubs.)
        response._resource_closers.append(partial(self._after_response, form))  # type: ignore[attr-defined]
        return response

    def _after_response(self, form: DeferredPasswordResetForm) -> None:
        try:
            # The audit trail names the accounts a reset was asked for.
            for user in form.users:
                audit.record(AuditEvent.Kind.PASSWORD_RESET_REQUESTED, user=user, request=self.request)
        except Exception:
            # The answer has been sent: there is no one left to show an error to.
            logger.exception("password reset request not audited")
        background.submit(form.send, name="password reset mail")


@method_decorator(login_not_required, name="dispatch")
class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's confirm page without server-side sessions.

    Django moves the token from the URL into the session to keep it out of
    Referer headers. With no sessions, the token stays in the URL and the page
    is served with ``Referrer-Policy: strict-origin``: requests from it carry
    the site's origin, never the path with the token. Not ``no-referrer``:
    browsers then send ``Origin: null`` with the form's POST, which Django's
    CSRF check rightly refuses (a real browser could not set its password).
    The token dies with the password change, so the link works once.
    """

    token_generator = reset_token_generator
    success_url = reverse_lazy("password_reset_complete")

    # Django's own protections of this page, which overriding dispatch drops:
    # the new password stays out of error reports, and the page whose URL
    # holds the token is never stored by a cache.
    @method_decorator(sensitive_post_parameters())
    @method_decorator(never_cache)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.user = self.get_user(kwargs["uidb64"])
        self.validlink = self.user is not None and self.token_generator.check_token(
            self.user, kwargs["token"]
        )
        response = FormView.dispatch(self, request, *args, **kwargs)
        response["Referrer-Policy"] = "strict-origin"
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.validlink:
            return self.get(request, *args, **kwargs)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        # Saving the new password bumps token_version (signals.py): every
        # browser signed in as this user is logged out at its next refresh.
        form.user._tokens_revoke_reason = "password_reset"
        form.save()
        response = HttpResponseRedirect(self.get_success_url())
        clear_auth_cookies(response)
        return response
