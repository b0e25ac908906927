"""Signing in and out, and "Confirm your password"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required, login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from tokens_app import flows, kept
from tokens_app.cookies import clear_auth_cookies, set_auth_cookies
from tokens_app.exceptions import TokenError
from tokens_app.reauth import reauthentication_required
from tokens_app.request_attrs import token_session

from .account import live_session_required
from .forms import ReauthenticationForm, ThrottledAuthenticationForm, answer_throttled

if TYPE_CHECKING:
    from tokens_app.request_attrs import AuthenticatedHttpRequest

# Logging out also asks the browser to drop everything the site stored
# (W3C Clear-Site-Data): cookies of any name and path, localStorage and the like.
CLEAR_SITE_DATA = '"cookies", "storage"'


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    """Django's login page (AuthenticationForm, safe ?next=, CSRF), issuing tokens."""

    template_name = "registration/login.html"
    form_class = ThrottledAuthenticationForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        # What became of a form posted after the session ended (kept.py).
        return {**super().get_context_data(**kwargs), "kept_post": kept.notice(self.request)}

    def form_invalid(self, form: Any) -> HttpResponse:
        return answer_throttled(super().form_invalid(form), form)

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        pair = flows.log_in(self.request, user, remember=form.cleaned_data["remember"])
        response = HttpResponseRedirect(self.get_success_url())
        set_auth_cookies(response, pair)
        # A form kept for this user is offered again; anyone else's is dropped.
        return kept.after_sign_in(self.request, response, user)


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
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, self.template_name)

    def post(self, request: HttpRequest) -> HttpResponse:
        flows.log_out(request)
        # Clear-Site-Data wipes the cookies this response sets too, the flash
        # message's among them: the next hop (logged_out) says it instead.
        response = redirect("logged_out")
        clear_auth_cookies(response)
        response["Clear-Site-Data"] = CLEAR_SITE_DATA
        return response


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
    flows.log_out_everywhere(request, token_session(request).user)
    response = redirect(f"{reverse('logged_out')}?everywhere=1")
    clear_auth_cookies(response)
    response["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("home")


@kept.never_kept  # a password and where to go next: nothing worth keeping
@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@login_required
def reauthenticate(request: AuthenticatedHttpRequest) -> HttpResponse:
    """ "Confirm your password": renews auth_time, then back to the pending action."""
    next_url = _safe_next(request)
    form = ReauthenticationForm(request.POST if request.method == "POST" else None, request=request)
    if request.method == "POST" and form.is_valid():
        try:
            pair = flows.reauthenticate(request, request.user)
        except TokenError:
            # This device was signed out meanwhile: sign in again.
            again = redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")
            clear_auth_cookies(again)
            return again
        back = HttpResponseRedirect(next_url)
        set_auth_cookies(back, pair)
        return back
    response = render(request, "tokens_app/reauthenticate.html", {"form": form, "next": next_url})
    return answer_throttled(response, form)
