"""Work done off the request thread, so that how long an answer takes does
not tell what it did (a reset mail goes out only for a real account).

One worker thread per process runs the tasks in order. A failing task is
logged and the next one runs; the process waits for queued tasks when it
exits (gunicorn's graceful worker exit included). ``flush()`` waits for them
now: tests call it before reading the outbox.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.db import connections

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_pending: set[Future] = set()


def _forget_parents_worker() -> None:
    # A forked child (a gunicorn worker of a preloading master) has no copy
    # of the parent's thread: it starts its own on first use.
    global _executor, _lock
    _executor = None
    _pending.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_parents_worker)


def _run(task: Callable[[], object], name: str) -> None:
    try:
        task()
    except Exception:
        logger.exception("background task failed: %s", name)
    finally:
        # Only this thread's connections: a task that queried must not keep
        # one open for as long as the process lives.
        connections.close_all()


def submit(task: Callable[[], object], *, name: str) -> None:
    """Run ``task()`` on this process's background thread; ``name`` is for the log."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokens-background")
        future = _executor.submit(_run, task, name)
        _pending.add(future)
    future.add_done_callback(_done)


def _done(future: Future) -> None:
    with _lock:
        _pending.discard(future)


def flush(timeout: float | None = None) -> None:
    """Wait until every task submitted so far has run (or ``timeout`` seconds)."""
    with _lock:
        pending = set(_pending)
    wait(pending, timeout=timeout)
