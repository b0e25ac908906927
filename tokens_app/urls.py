from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import path

from . import api, views

# Mounted at /accounts/.
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logout/all/", views.logout_all, name="logout_all"),
    path("logout/done/", views.logged_out, name="logged_out"),
    path("password_change/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/others/revoke/", views.revoke_other_sessions, name="revoke_other_sessions"),
    path("sessions/<uuid:session_id>/revoke/", views.revoke_session, name="revoke_session"),
    path("reauthenticate/", views.reauthenticate, name="reauthenticate"),
    path("sessions/report/<str:token>/", views.ReportSessionView.as_view(), name="report_session"),
]

# Mounted at /api/auth/.
api_urlpatterns = [
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
]
# DRF authenticates and authorises each API view itself (401/403 JSON), so
# Django's LoginRequiredMiddleware must not turn them into login redirects.
for _pattern in api_urlpatterns:
    _pattern.callback = login_not_required(_pattern.callback)
