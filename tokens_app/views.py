"""The HTML pages. Thin: each action is one call into ``flows``."""

from __future__ import annotations

import logging
from functools import partial, wraps

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required, login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.contrib.auth.views import redirect_to_login
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django.views.generic.edit import FormView

from . import alerts, audit, background, flows, throttling, versions
from .conf import app_settings
from .cookies import clear_auth_cookies, set_auth_cookies
from .exceptions import TokenError, TokenRevoked
from .models import AuditEvent, LoginSession
from .reauth import reauthentication_required
from .tokens import verify_refresh

logger = logging.getLogger(__name__)

# Logging out also asks the browser to drop everything the site stored
# (W3C Clear-Site-Data): cookies of any name and path, localStorage and the like.
CLEAR_SITE_DATA = '"cookies", "storage"'


class ResetTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset token, also void once the user's sessions were ended.

    Django's token already dies when the password changes (so a link works
    once); including token_version also kills links mailed before a force
    logout or "log out everywhere".
    """

    key_salt = "tokens_app.views.ResetTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        return f"{super()._make_hash_value(user, timestamp)}{versions.of(user)}"


reset_token_generator = ResetTokenGenerator()


THROTTLED_MESSAGE = _lazy("Too many failed sign-in attempts. Please try again in %(wait)s.")


def _authenticate_for_form(form, username: str, password: str):
    """throttling.authenticate for a form whose ``request`` is set: over a
    limit the password is not checked, ``form.retry_after`` says when to try
    again, and the form shows the "throttled" error."""
    try:
        return throttling.authenticate(form.request, username=username, password=password)
    except throttling.RateLimited as exc:
        form.retry_after = exc.retry_after
        # A project's subclass of the login form may word it its own way.
        message = getattr(form, "error_messages", {}).get("throttled", THROTTLED_MESSAGE)
        raise ValidationError(
            message, code="throttled", params={"wait": throttling.wait_text(exc.retry_after)}
        ) from None


def _answer_throttled(response: HttpResponse, form) -> HttpResponse:
    # 429 tells scripts and monitoring what happened; browsers show the page.
    if form.retry_after is not None:
        response.status_code = 429
        response["Retry-After"] = str(form.retry_after)
    return response


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's login form behind the login limits (throttling.authenticate).

    Over a limit the password is not checked and the form says when to try
    again; the answer is the same whether or not the username exists.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": THROTTLED_MESSAGE,
    }

    retry_after: int | None = None

    remember = forms.BooleanField(
        label=_lazy("Remember me on this device"),
        required=False,
        help_text=_lazy("Untick on a shared computer: you will be signed out when the browser closes."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read late (a setting): whether the box starts ticked.
        self.fields["remember"].initial = app_settings.REMEMBER_ME_DEFAULT

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            self.user_cache = _authenticate_for_form(self, username, password)
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    """Django's login page (AuthenticationForm, safe ?next=, CSRF), issuing tokens."""

    template_name = "registration/login.html"
    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form):
        return _answer_throttled(super().form_invalid(form), form)

    def form_valid(self, form):
        pair = flows.log_in(self.request, form.get_user(), remember=form.cleaned_data["remember"])
        response = HttpResponseRedirect(self.get_success_url())
        set_auth_cookies(response, pair)
        return response


@login_not_required
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin signs in through the site's own login page: one kind of session."""
    target = request.GET.get("next", reverse("admin:index"))
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("admin:index")
    return redirect(f"{reverse('login')}?{urlencode({'next': target})}")


class LogoutView(View):
    """GET asks for confirmation; only POST logs out (no logout by link or image)."""

    template_name = "registration/logout.html"

    @method_decorator(login_not_required)
    @method_decorator(never_cache)
    @method_decorator(csrf_protect)
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        return render(request, self.template_name)

    def post(self, request):
        flows.log_out(request)
        # Clear-Site-Data wipes the cookies this response sets too, the flash
        # message's among them: the next hop (logged_out) says it instead.
        response = redirect("logged_out")
        clear_auth_cookies(response)
        response["Clear-Site-Data"] = CLEAR_SITE_DATA
        return response


def _session_ended(request: HttpRequest) -> HttpResponse:
    messages.warning(request, TokenRevoked.message, fail_silently=True)
    response = redirect_to_login(request.get_full_path())
    clear_auth_cookies(response)
    return response


def live_session_required(view):
    """For the views that manage the account: after ``login_required``, the
    token's device session must be live in the database (flows.live_session),
    or the browser is signed out and sent to the login page. The session is
    ``request.token_session`` for the view."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        session = flows.live_session(request.token_claims)
        if session is None:
            return _session_ended(request)
        request.token_session = session
        return view(request, *args, **kwargs)

    return wrapped


@login_not_required
@never_cache
def logged_out(request: HttpRequest) -> HttpResponse:
    """The hop after a logout's Clear-Site-Data: the message, then the login page.

    A signed-in visitor (a link from elsewhere) is told nothing and sent home.
    """
    if request.user.is_authenticated:
        return redirect("home")
    if request.GET.get("everywhere"):
        messages.success(request, _("You have been logged out on all devices."))
    else:
        messages.success(request, _("You have been logged out."))
    return redirect("login")


@require_POST
@csrf_protect
@login_required
@live_session_required
@reauthentication_required
def logout_all(request: HttpRequest) -> HttpResponse:
    flows.log_out_everywhere(request, request.token_session.user)
    response = redirect(f"{reverse('logged_out')}?everywhere=1")
    clear_auth_cookies(response)
    response["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


def _refresh_expiry(request: HttpRequest):
    pair = request._tokens_state.pair
    if pair is not None:
        return pair.refresh.claims.expires_at
    try:
        return verify_refresh(request.COOKIES.get(app_settings.REFRESH_COOKIE)).expires_at
    except TokenError:
        return None


@never_cache
@login_required
def home(request: HttpRequest) -> HttpResponse:
    claims = request.token_claims
    return render(
        request,
        "tokens_app/home.html",
        {
            "access_expires": claims.expires_at if claims else None,
            "refresh_expires": _refresh_expiry(request),
        },
    )


@method_decorator(reauthentication_required, name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    """Changing the password ends every session, then keeps this browser signed in."""

    success_url = reverse_lazy("password_change_done")

    def dispatch(self, request, *args, **kwargs):
        # Django's dispatch (login_required, CSRF, sensitive parameters) runs
        # for signed-in users whose session is live; an ended one is signed out.
        if request.user.is_authenticated and flows.live_session(request.token_claims) is None:
            return _session_ended(request)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
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


class DeferredPasswordResetForm(PasswordResetForm):
    """Django's reset form, whose ``save()`` looks the accounts up and only
    prepares their mail: ``send()`` builds and sends it.

    Built and sent during the request, the mail made the answer measurably
    slower for real accounts (more so over SMTP), which told whether an
    address has one. The view runs ``send`` on the background thread once its
    answer has gone out; until then every address costs the same query.
    """

    users: list = []

    def save(self, *, request=None, domain_override=None, extra_email_context=None, **options) -> None:
        users = self.users = list(self.get_users(self.cleaned_data["email"]))
        self.get_users = lambda email: iter(users)  # the accounts found now, not a second query
        if not domain_override:
            # Read from the request now: it is gone when the mail is built.
            site = get_current_site(request)
            domain_override = site.domain
            extra_email_context = {"site_name": site.name, **(extra_email_context or {})}
        language = translation.get_language()

        def send() -> None:
            with translation.override(language):
                PasswordResetForm.save(
                    self, domain_override=domain_override, extra_email_context=extra_email_context, **options
                )

        self.send = send


@method_decorator(login_not_required, name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request, limited per address and per client IP.

    Over a limit nothing is sent, and the page is the same "check your email"
    as always: no mailbox can be bombed and no address is confirmed.
    """

    token_generator = reset_token_generator
    success_url = reverse_lazy("password_reset_done")
    form_class = DeferredPasswordResetForm

    def form_valid(self, form):
        if not throttling.password_reset_allowed(self.request, form.cleaned_data["email"]):
            return HttpResponseRedirect(self.get_success_url())
        response = super().form_valid(form)  # form.save(): the accounts, their mail prepared
        # What is done only for real accounts is done once the answer has
        # gone out (the server closes the response after sending it), so the
        # answer's timing cannot tell: the audit rows, then the mail, on the
        # background thread. Whether an account was found or not, the same
        # task is queued.
        response._resource_closers.append(partial(self._after_response, form))
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
    def dispatch(self, request, *args, **kwargs):
        self.user = self.get_user(kwargs["uidb64"])
        self.validlink = self.user is not None and self.token_generator.check_token(
            self.user, kwargs["token"]
        )
        response = FormView.dispatch(self, request, *args, **kwargs)
        response["Referrer-Policy"] = "strict-origin"
        return response

    def post(self, request, *args, **kwargs):
        if not self.validlink:
            return self.get(request, *args, **kwargs)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        # Saving the new password bumps token_version (signals.py): every
        # browser signed in as this user is logged out at its next refresh.
        form.user._tokens_revoke_reason = "password_reset"
        form.save()
        response = HttpResponseRedirect(self.get_success_url())
        clear_auth_cookies(response)
        return response


@never_cache
@login_required
@live_session_required
def sessions(request: HttpRequest) -> HttpResponse:
    current = request.token_session
    rows = list(LoginSession.objects.active().filter(user_id=current.user_id))
    for row in rows:
        row.is_current = row.pk == current.pk
        row.ends_at = flows.session_deadline(row)
    return render(request, "tokens_app/sessions.html", {"sessions": rows})


@require_POST
@csrf_protect
@login_required
@live_session_required
def revoke_session(request: HttpRequest, session_id) -> HttpResponse:
    session = flows.log_out_device(request, request.token_session, session_id)
    if session.pk == request.token_session.pk:
        messages.success(request, _("You have been logged out."))
        response = redirect("login")
        clear_auth_cookies(response)
        return response
    messages.success(request, _("That device has been logged out."))
    return redirect("sessions")


@require_POST
@csrf_protect
@login_required
@live_session_required
@reauthentication_required
def revoke_other_sessions(request: HttpRequest) -> HttpResponse:
    count = flows.log_out_other_devices(request, request.token_session)
    messages.success(request, _("Logged out %(count)d other device(s).") % {"count": count})
    return redirect("sessions")


class ReauthenticationForm(forms.Form):
    """The password of the signed-in user, checked behind the login limits."""

    password = forms.CharField(
        label=_lazy("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )

    def __init__(self, *args, request: HttpRequest, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.retry_after: int | None = None

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        username = self.request.user.get_username()
        # Counted like a sign-in: the same limits as the login page.
        user = _authenticate_for_form(self, username, password)
        if user is None or user.pk != self.request.user.pk:
            raise ValidationError(_("That is not your password."), code="invalid_password")
        return password


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("home")


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@login_required
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """ "Confirm your password": renews auth_time, then back to the pending action."""
    next_url = _safe_next(request)
    form = ReauthenticationForm(request.POST if request.method == "POST" else None, request=request)
    if request.method == "POST":
        if form.is_valid():
            try:
                pair = flows.reauthenticate(request, request.user)
            except TokenError:
                # This device was signed out meanwhile: sign in again.
                response = redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")
                clear_auth_cookies(response)
                return response
            response = HttpResponseRedirect(next_url)
            set_auth_cookies(response, pair)
            return response
    response = render(request, "tokens_app/reauthenticate.html", {"form": form, "next": next_url})
    return _answer_throttled(response, form)


@method_decorator(login_not_required, name="dispatch")
@method_decorator(never_cache, name="dispatch")
@method_decorator(csrf_protect, name="dispatch")
class ReportSessionView(View):
    """The new-device mail's "This wasn't me": GET asks (mail scanners open
    links), POST ends exactly that device session, once, and offers a reset."""

    template_name = "tokens_app/report_session.html"

    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        # The signed token is in the path: requests from the page carry only
        # the origin (not no-referrer, which makes the form's POST fail CSRF;
        # see PasswordResetConfirmView).
        response["Referrer-Policy"] = "strict-origin"
        return response

    def get(self, request, token: str):
        session = alerts.session_for_report(token)
        if session is None:
            return render(request, self.template_name, {"outcome": "invalid"}, status=404)
        used = session.reported_at is not None
        return render(
            request, self.template_name, {"outcome": "already_used" if used else "ask", "session": session}
        )

    def post(self, request, token: str):
        outcome, session = alerts.end_reported_session(token, request=request)
        status = 404 if outcome is alerts.Report.INVALID else 200
        return render(
            request, self.template_name, {"outcome": outcome.value, "session": session}, status=status
        )
