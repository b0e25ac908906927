from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connections

# Tests here carry ``pytestmark = pytest.mark.server``: they need PostgreSQL
# + Redis, and tests/server_leg.py reports (or fails) them when absent.


def run_at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` in threads released together; return results (or raised
    exceptions) in order. Each thread has its own database connection, closed
    at the end, as a request in another worker would."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        try:
            barrier.wait(timeout=30)
            return call()
        except Exception as exc:
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))
