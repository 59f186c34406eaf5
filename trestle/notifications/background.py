"""Prefect artifact calls sent from one background thread, in order, off the run's critical path.

Every artifact call is a round trip to the Prefect API: 10-40 ms each on a temporary server busy
ingesting a night's events, and a nightly makes about fifty (a progress bar per integration,
created and updated, and three summary artifacts per integration). Made on the run's own thread
they added about a second to a medium night in which the integrations' work was five.

:func:`send` queues a call and returns at once. One worker thread runs the calls in the order
they were sent (a progress bar's update after its creation), each inside a copy of the caller's
context, so an artifact attaches to the flow or task run that asked for it, as if sent inline.
:func:`drain` waits for every call sent so far: whoever ends a run calls it (the flows do, in
:func:`trestle.flows.common.execute` and :func:`~trestle.flows.common.summaries_in_background`),
so a run's artifacts are all there when Prefect shows the run finished.

The calls sent are expected to handle their own errors (artifacts are decoration and must never
fail a sync); one that raises anyway is logged here and the queue goes on.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from typing import Any

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_SECONDS = 120.0
"""How long :func:`drain` waits for the queue before it gives up (and logs what is left)."""

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_pending: list[Future[None]] = []


def send(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Queue ``function(*args, **kwargs)`` for the worker thread, in the caller's context."""
    global _executor
    context = contextvars.copy_context()
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trestle-artifacts")
        _pending[:] = [future for future in _pending if not future.done()]
        _pending.append(_executor.submit(context.run, _logged, function, *args, **kwargs))


def drain(timeout: float = DRAIN_TIMEOUT_SECONDS) -> None:
    """Wait until every call sent so far has run (at most ``timeout`` seconds)."""
    with _lock:
        pending = list(_pending)
    if not pending:
        return
    _, not_done = wait_for(pending, timeout=timeout)
    if not_done:
        logger.warning(
            "%d Prefect artifact call(s) still queued after %.0f s; not waiting for them", len(not_done), timeout
        )
    with _lock:
        _pending[:] = [future for future in _pending if not future.done()]


def queued() -> int:
    """Calls sent and not finished yet."""
    with _lock:
        return sum(1 for future in _pending if not future.done())


def _logged(function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        function(*args, **kwargs)
    except Exception:  # an artifact must never fail the run it describes, nor stop the queue
        logger.warning("a background Prefect artifact call failed", exc_info=True)
