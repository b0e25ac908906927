"""The forms of the pages: Django's, behind the login limits (throttling.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from tokens_app import throttling
from tokens_app.conf import app_settings

THROTTLED_MESSAGE = _lazy("Too many failed sign-in attempts. Please try again in %(wait)s.")


def _authenticate_for_form(form: Any, username: str, password: str) -> Any:
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


def answer_throttled(response: HttpResponse, form: Any) -> HttpResponse:
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read late (a setting): whether the box starts ticked.
        self.fields["remember"].initial = app_settings.REMEMBER_ME_DEFAULT

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            self.user_cache = _authenticate_for_form(self, username, password)
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class ReauthenticationForm(forms.Form):
    """The password of the signed-in user, checked behind the login limits."""

    password = forms.CharField(
        label=_lazy("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
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


class DeferredPasswordResetForm(PasswordResetForm):
    """Django's reset form, whose ``save()`` looks the accounts up and only
    prepares their mail: ``send()`` builds and sends it.

    Built and sent during the request, the mail made the answer measurably
    slower for real accounts (more so over SMTP), which told whether an
    address has one. The view runs ``send`` on the background thread once its
    answer has gone out; until then every address costs the same query.
    """

    users: list[Any] = []

    def save(  # type: ignore[override]
        self,
        *,
        request: HttpRequest | None = None,
        domain_override: str | None = None,
        extra_email_context: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        users = self.users = list(self.get_users(self.cleaned_data["email"]))
        self.get_users = lambda email: iter(users)  # type: ignore[method-assign]  # the accounts found now
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
