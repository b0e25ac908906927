from __future__ import annotations

from django.urls import include, path

from authproject.urls import urlpatterns as site_urlpatterns

from . import views

urlpatterns = [
    path("bench/floor/", views.floor),
    path("bench/ours/", views.page),
    path("bench/django/", views.page),
    path("bench/api/", views.ApiPage.as_view()),
    path("bench/api-noauth/", views.ApiPageNoAuth.as_view()),
    path("bench/sjwt/", views.SimpleJWTPage.as_view()),
    path("bench/sjwt-stateless/", views.SimpleJWTStatelessPage.as_view()),
    path("bench/sjwt/refresh/", views.simplejwt_refresh),
    path("bench/bump/", views.bump),
    path("", include(site_urlpatterns)),
]
