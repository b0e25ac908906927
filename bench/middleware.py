"""Bench-only middleware: query counting and the Django-sessions arm."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.db import connections
from django.http import HttpRequest
from django.http.response import HttpResponseBase

COUNT_HEADER = "HTTP_X_BENCH_COUNT_QUERIES"
DJANGO_ARM_PREFIX = "/bench/django/"


class _Counter:
    """Counts the statements every database connection runs while entered."""

    def __init__(self) -> None:
        self.count = 0
        self._stack = contextlib.ExitStack()

    def _count(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self) -> _Counter:
        for alias in connections:
            self._stack.enter_context(connections[alias].execute_wrapper(self._count))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


class QueryCountMiddleware:
    """With the request header ``X-Bench-Count-Queries: 1``, count every SQL
    statement the request runs (all middleware and the view, every database
    alias) and answer the total in ``X-Bench-Queries``.

    Without the header it only passes the request on, so the timed runs, which
    never send it, pay one dict lookup. Sync and async: outermost in the stack,
    a sync-only one would put every ASGI request through a thread hop.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        if COUNT_HEADER not in request.META:
            return self.get_response(request)
        with _Counter() as counter:
            response = self.get_response(request)
        response["X-Bench-Queries"] = str(counter.count)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if COUNT_HEADER not in request.META:
            return await self.get_response(request)
        # Connections are per thread, and a request's queries run in its one
        # thread for sync code (thread_sensitive): install the wrappers there.
        counter = _Counter()
        await sync_to_async(counter.__enter__)()
        try:
            response = await self.get_response(request)
        finally:
            await sync_to_async(counter.__exit__)()
        response["X-Bench-Queries"] = str(counter.count)
        return response


class DjangoSessionArmMiddleware(AuthenticationMiddleware):
    """Django's own AuthenticationMiddleware (request.user from the database
    session), for the Django-sessions arm's URL only.

    It runs after our token middleware and replaces the ``request.user`` that
    one set (lazily, so ours did no work); everywhere else it does nothing.
    Same server, same workers, same view: only the authentication differs.
    """

    def process_request(self, request: HttpRequest) -> None:
        if request.path_info.startswith(DJANGO_ARM_PREFIX):
            super().process_request(request)
