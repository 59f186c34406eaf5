"""The background artifact queue: calls return at once, run in order in the caller's context, and
``drain`` waits for them; one that raises is logged and the queue goes on."""

from __future__ import annotations

import logging
import threading
from contextvars import ContextVar

import pytest

from trestle.notifications import background

WHO: ContextVar[str] = ContextVar("who", default="nobody")


def test_send_returns_before_the_call_runs_and_drain_waits_for_it() -> None:
    gate, ran = threading.Event(), []
    background.send(gate.wait)  # holds the worker until the test lets it go
    background.send(ran.append, "after the gate")

    assert ran == [] and background.queued() == 2
    gate.set()
    background.drain()

    assert ran == ["after the gate"] and background.queued() == 0


def test_calls_run_in_the_order_sent_on_another_thread_in_the_senders_context() -> None:
    seen: list[tuple[int, str, bool]] = []

    def record(number: int) -> None:
        seen.append((number, WHO.get(), threading.current_thread() is threading.main_thread()))

    token = WHO.set("integration task run")
    try:
        for number in range(20):
            background.send(record, number)
    finally:
        WHO.reset(token)
    background.send(record, 20)  # sent after the context changed back
    background.drain()

    assert [number for number, _, _ in seen] == list(range(21))
    assert {who for number, who, _ in seen if number < 20} == {"integration task run"}
    assert seen[-1][1] == "nobody"
    assert not any(on_main for _, _, on_main in seen)


def test_a_call_that_raises_is_logged_and_the_queue_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []

    def refuse() -> None:
        raise RuntimeError("Prefect said no")

    with caplog.at_level(logging.WARNING, logger="trestle.notifications.background"):
        background.send(refuse)
        background.send(ran.append, "next")
        background.drain()

    assert ran == ["next"]
    assert "a background Prefect artifact call failed" in caplog.text and "Prefect said no" in caplog.text


def test_drain_gives_up_after_its_timeout_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    gate = threading.Event()
    background.send(gate.wait)
    with caplog.at_level(logging.WARNING, logger="trestle.notifications.background"):
        background.drain(timeout=0.05)
    assert "1 Prefect artifact call(s) still queued" in caplog.text
    gate.set()
    background.drain()
    assert background.queued() == 0
