from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

# The browser pages, mounted at /accounts/. The JSON API (Django REST framework)
# has its own urls module, tokens_app.api_urls, mounted at /api/auth/.
urlpatterns = [
    # The signed-in user's page (token expiry, devices, log out everywhere);
    # a site may also mount views.home at its root, as authproject does.
    path("", views.home, name="account_home"),
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
    # The page script's "Stay signed in", and a form kept across a sign-in (kept.py).
    path("session/extend/", views.stay_signed_in, name="stay_signed_in"),
    path("kept/", views.kept_post, name="kept_post"),
    path("kept/discard/", views.discard_kept_post, name="discard_kept_post"),
]
