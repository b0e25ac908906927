"""This site's infrastructure middleware (not part of the token app)."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.deprecation import MiddlewareMixin
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


class ServiceUnavailableMiddleware(MiddlewareMixin):
    """A database that is down answers 503, never a traceback, and keeps the cookies."""

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not isinstance(exception, DatabaseError):
            return None
        logger.error("database unavailable: %s", type(exception).__name__)
        if wants_json(request):
            response = JsonResponse(
                {
                    "detail": _("The service is temporarily unavailable. Please try again shortly."),
                    "code": "service_unavailable",
                },
                status=503,
            )
        else:
            # No request context: the page must not touch request.user, which
            # would need the database that just failed.
            response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = "5"
        return response
