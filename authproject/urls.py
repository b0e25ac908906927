from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import include, path

from tokens_app import admin as tokens_admin
from tokens_app import feed, jwks, views
from tokens_app.reauth import protect_admin

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
    # One sign-in for site and admin: the admin's own login page is not used.
    path("admin/login/", views.admin_login),
    path("admin/logout/", views.LogoutView.as_view()),
    # The admin's "Change password" link, through the site's password change.
    path("admin/password_change/", tokens_admin.password_change),
    # Behind re-authentication while TOKENS_REAUTHENTICATE_ADMIN is on.
    path("admin/", protect_admin(admin.site.urls)),
    path("healthz/", healthz),
    path(".well-known/jwks.json", jwks.jwks, name="jwks"),
    # The signed revocation feed for other services (off until credentials are set).
    path("revocations/", feed.revocation_feed, name="revocation_feed"),
]

# The JSON API and its schema only where their frameworks are installed: a site
# that uses only the browser pages imports neither DRF nor drf-spectacular.
if apps.is_installed("rest_framework"):
    urlpatterns.append(path("api/auth/", include("tokens_app.api_urls")))
if apps.is_installed("drf_spectacular"):
    from drf_spectacular.views import SpectacularAPIView

    urlpatterns.append(path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"))
