"""The JSON API's urls (needs Django REST framework), mounted at /api/auth/:
``path("api/auth/", include("tokens_app.api_urls"))``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from . import api, api_app

urlpatterns = [
    path("csrf/", api.CsrfView.as_view(), name="api_csrf"),
    path("login/", api.LoginView.as_view(), name="api_login"),
    path("refresh/", api.RefreshView.as_view(), name="api_refresh"),
    path("logout/", api.LogoutView.as_view(), name="api_logout"),
    path("logout-all/", api.LogoutAllView.as_view(), name="api_logout_all"),
    path("me/", api.MeView.as_view(), name="api_me"),
    path("sessions/", api.SessionListView.as_view(), name="api_sessions"),
    path("sessions/<uuid:session_id>/", api.SessionDetailView.as_view(), name="api_session"),
    path("logout-others/", api.LogoutOthersView.as_view(), name="api_logout_others"),
    path("reauthenticate/", api.ReauthenticateView.as_view(), name="api_reauthenticate"),
    # Native apps: the tokens in the body and the Authorization header (bearer.py).
    path("app/login/", api_app.AppLoginView.as_view(), name="api_app_login"),
    path("app/refresh/", api_app.AppRefreshView.as_view(), name="api_app_refresh"),
    path("app/logout/", api_app.AppLogoutView.as_view(), name="api_app_logout"),
]
# DRF authenticates and authorises each API view itself (401/403 JSON), so
# Django's LoginRequiredMiddleware must not turn them into login redirects.
for _pattern in urlpatterns:
    _pattern.callback = login_not_required(_pattern.callback)
