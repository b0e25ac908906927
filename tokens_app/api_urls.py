"""The JSON API's urls (needs Django REST framework), mounted at /api/auth/:
``path("api/auth/", include("tokens_app.api_urls"))``."""

from __future__ import annotations

from django.urls import path

from . import api

urlpatterns = [
    path("csrf/", api.CsrfView.as_view(), name="api_csrf"),
    path("login/", api.LoginView.as_view(), name="api_login"),
    path("refresh/", api.RefreshView.as_view(), name="api_refresh"),
    path("logout/", api.LogoutView.as_view(), name="api_logout"),
    path("logout-all/", api.LogoutAllView.as_view(), name="api_logout_all"),
    path("me/", api.MeView.as_view(), name="api_me"),
    path("sessions/", api.SessionListView.as_view(), name="api_sessions"),
    path("sessions/<uuid:session_id>/", api.SessionDetailView.as_view(), name="api_session"),
]
