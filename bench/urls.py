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
    path("", include(site_urlpatterns)),
]
