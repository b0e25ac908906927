"""Bench-only middleware: query counting and the Django-sessions arm."""

from __future__ import annotations

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.db import connections

COUNT_HEADER = "HTTP_X_BENCH_COUNT_QUERIES"
DJANGO_ARM_PREFIX = "/bench/django/"


class QueryCountMiddleware:
    """With the request header ``X-Bench-Count-Queries: 1``, count every SQL
    statement the request runs (all middleware and the view, every database
    alias) and answer the total in ``X-Bench-Queries``.

    Without the header it only passes the request on, so the timed runs, which
    never send it, pay one dict lookup.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if COUNT_HEADER not in request.META:
            return self.get_response(request)
        count = 0

        def counter(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        wrappers = [connections[alias].execute_wrapper(counter) for alias in connections]
        for wrapper in wrappers:
            wrapper.__enter__()
        try:
            response = self.get_response(request)
        finally:
            for wrapper in reversed(wrappers):
                wrapper.__exit__(None, None, None)
        response["X-Bench-Queries"] = str(count)
        return response


class DjangoSessionArmMiddleware(AuthenticationMiddleware):
    """Django's own AuthenticationMiddleware (request.user from the database
    session), for the Django-sessions arm's URL only.

    It runs after our token middleware and replaces the ``request.user`` that
    one set (lazily, so ours did no work); everywhere else it does nothing.
    Same server, same workers, same view: only the authentication differs.
    """

    def process_request(self, request):
        if request.path_info.startswith(DJANGO_ARM_PREFIX):
            super().process_request(request)
