from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from tokens_app import jwks, views
from tokens_app.reauth import protect_admin
from tokens_app.urls import api_urlpatterns

admin.site.site_header = "authproject administration"

handler403 = "authproject.errors.permission_denied"
handler404 = "authproject.errors.page_not_found"
handler500 = "authproject.errors.server_error"


@login_not_required
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("tokens_app.urls")),
    path("api/auth/", include(api_urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # One sign-in for site and admin: the admin's own login page is not used.
    path("admin/login/", views.admin_login),
    path("admin/logout/", views.LogoutView.as_view()),
    # Behind re-authentication while TOKENS_REAUTHENTICATE_ADMIN is on.
    path("admin/", protect_admin(admin.site.urls)),
    path("healthz/", healthz),
    path(".well-known/jwks.json", jwks.jwks, name="jwks"),
]
