"""A clock each simulated browser carries with it (chaos servers only).

The chaos suite needs minutes and days to pass (a lost refresh response
retried after 10 minutes, a laptop waking the next morning) in a run of a few
minutes, for hundreds of browsers at once, each on its own timeline. So every
request says how far ahead of the real time its browser lives
(``X-Chaos-Clock-Shift: <seconds>``), and ``tokens_app.clock.now`` answers
real time plus that shift for the request's thread: token expiry, the
rotation grace window and the session's deadlines are all judged on the
browser's timeline, by the real server code.

Loaded only by ``tests/chaos/server_settings.py``: a header that moves the
clock would be a hole in any real deployment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.http import HttpRequest, HttpResponse

HEADER = "X-Chaos-Clock-Shift"
_META = "HTTP_" + HEADER.upper().replace("-", "_")
_local = threading.local()


def now() -> datetime:
    """The real time, moved by the shift of the request this thread serves."""
    return datetime.now(UTC) + timedelta(seconds=getattr(_local, "shift", 0.0))


def install() -> None:
    import tokens_app.clock

    tokens_app.clock.now = now


class ShiftedClockMiddleware:
    """First in MIDDLEWARE: the shift holds for everything the request runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            _local.shift = float(request.META.get(_META, "0"))
        except ValueError:
            _local.shift = 0.0
        try:
            return self.get_response(request)
        finally:
            _local.shift = 0.0
