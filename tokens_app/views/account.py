"""The signed-in user's pages: home, devices, and the "This wasn't me" link."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from tokens_app import alerts, flows
from tokens_app.conf import app_settings
from tokens_app.cookies import clear_auth_cookies
from tokens_app.exceptions import TokenError, TokenRevoked
from tokens_app.models import LoginSession
from tokens_app.reauth import reauthentication_required
from tokens_app.request_attrs import set_token_session, token_claims, token_session
from tokens_app.request_user import current_state
from tokens_app.tokens import verify_refresh

View_ = Callable[..., HttpResponse]


def session_ended(request: HttpRequest) -> HttpResponse:
    """Signed out: this device's session is no longer live in the database."""
    messages.warning(request, TokenRevoked.message, fail_silently=True)
    response = redirect_to_login(request.get_full_path())
    clear_auth_cookies(response)
    return response


def live_session_required(view: View_) -> View_:
    """For the views that manage the account: after ``login_required``, the
    token's device session must be live in the database (flows.live_session),
    or the browser is signed out and sent to the login page. The session is
    ``request.token_session`` for the view."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        session = flows.live_session(token_claims(request))
        if session is None:
            return session_ended(request)
        set_token_session(request, session)
        return view(request, *args, **kwargs)

    return wrapped


def _refresh_expiry(request: HttpRequest) -> datetime | None:
    pair = current_state(request).pair
    if pair is not None:
        return pair.refresh.claims.expires_at
    try:
        return verify_refresh(request.COOKIES.get(app_settings.REFRESH_COOKIE)).expires_at
    except TokenError:
        return None


@never_cache
@login_required
def home(request: HttpRequest) -> HttpResponse:
    claims = token_claims(request)
    return render(
        request,
        "tokens_app/home.html",
        {
            "access_expires": claims.expires_at if claims else None,
            "refresh_expires": _refresh_expiry(request),
        },
    )


@never_cache
@login_required
@live_session_required
def sessions(request: HttpRequest) -> HttpResponse:
    current = token_session(request)
    rows = list(LoginSession.objects.active().filter(user_id=current.user_id))
    for row in rows:
        row.is_current = row.pk == current.pk
        row.ends_at = flows.session_deadline(row)
    return render(request, "tokens_app/sessions.html", {"sessions": rows})


@require_POST
@csrf_protect
@login_required
@live_session_required
def revoke_session(request: HttpRequest, session_id: Any) -> HttpResponse:
    current = token_session(request)
    session = flows.log_out_device(request, current, session_id)
    if session.pk == current.pk:
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
    count = flows.log_out_other_devices(request, token_session(request))
    messages.success(request, _("Logged out %(count)d other device(s).") % {"count": count})
    return redirect("sessions")


@method_decorator(login_not_required, name="dispatch")
@method_decorator(never_cache, name="dispatch")
@method_decorator(csrf_protect, name="dispatch")
class ReportSessionView(View):
    """The new-device mail's "This wasn't me": GET asks (mail scanners open
    links), POST ends exactly that device session, once, and offers a reset."""

    template_name = "tokens_app/report_session.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = super().dispatch(request, *args, **kwargs)
        # The signed token is in the path: requests from the page carry only
        # the origin (not no-referrer, which makes the form's POST fail CSRF;
        # see PasswordResetConfirmView).
        response["Referrer-Policy"] = "strict-origin"
        return response

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        session = alerts.session_for_report(token)
        if session is None:
            return render(request, self.template_name, {"outcome": "invalid"}, status=404)
        used = session.reported_at is not None
        return render(
            request, self.template_name, {"outcome": "already_used" if used else "ask", "session": session}
        )

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        outcome, session = alerts.end_reported_session(token, request=request)
        status = 404 if outcome is alerts.Report.INVALID else 200
        return render(
            request, self.template_name, {"outcome": outcome.value, "session": session}, status=status
        )
