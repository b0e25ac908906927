from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections

from tests.live_servers import Deployment, deployment

# Tests here carry ``pytestmark = pytest.mark.server``: they need PostgreSQL
# + Redis, and tests/server_leg.py reports (or fails) them when absent.

PASSWORD = "multi server passphrase 7"


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


@pytest.fixture(scope="session")
def app_servers(tmp_path_factory) -> Iterator[Deployment]:
    """Two gunicorn servers in the production configuration, sharing one
    PostgreSQL database and one Redis, as behind a load balancer."""
    with deployment(
        tmp_path_factory.mktemp("servers"),
        "multi",
        users={"alice": PASSWORD, "bob": PASSWORD},
        admins={"admin": PASSWORD},
        servers=2,
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="1",
    ) as servers:
        yield servers
