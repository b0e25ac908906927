"""The HTML pages. Thin: each action is one call into ``flows``.

One module per part of the site; the names below are the public surface
(``tokens_app.views.LoginView``...), as when this was one module.
"""

from __future__ import annotations

from .account import (
    ReportSessionView,
    home,
    live_session_required,
    revoke_other_sessions,
    revoke_session,
    session_ended,
    sessions,
)
from .forms import (
    THROTTLED_MESSAGE,
    DeferredPasswordResetForm,
    ReauthenticationForm,
    ThrottledAuthenticationForm,
)
from .passwords import (
    PasswordChangeView,
    PasswordResetConfirmView,
    PasswordResetView,
    ResetTokenGenerator,
    reset_token_generator,
)
from .session import discard_kept_post, kept_post, stay_signed_in
from .signin import (
    CLEAR_SITE_DATA,
    LoginView,
    LogoutView,
    admin_login,
    logged_out,
    logout_all,
    reauthenticate,
)

__all__ = [
    "CLEAR_SITE_DATA",
    "THROTTLED_MESSAGE",
    "DeferredPasswordResetForm",
    "LoginView",
    "LogoutView",
    "PasswordChangeView",
    "PasswordResetConfirmView",
    "PasswordResetView",
    "ReauthenticationForm",
    "ReportSessionView",
    "ResetTokenGenerator",
    "ThrottledAuthenticationForm",
    "admin_login",
    "discard_kept_post",
    "home",
    "kept_post",
    "live_session_required",
    "logged_out",
    "logout_all",
    "reauthenticate",
    "reset_token_generator",
    "revoke_other_sessions",
    "revoke_session",
    "session_ended",
    "sessions",
    "stay_signed_in",
]
