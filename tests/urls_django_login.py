"""The site's URLs plus Django's own sign-in pages, as a project that keeps
them would have: the stock admin (its own login page) and auth's LoginView."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.contrib.auth import views as auth_views
from django.urls import path

from authproject.urls import urlpatterns as site_urlpatterns

stock_admin = AdminSite(name="stock_admin")

urlpatterns = [
    path("stock-admin/", stock_admin.urls),
    path("django-login/", auth_views.LoginView.as_view(template_name="registration/login.html")),
    path("django-logout/", auth_views.LogoutView.as_view(next_page="/accounts/login/")),
    *site_urlpatterns,
]
