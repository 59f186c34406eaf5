"""One ``trestle up`` subprocess for the deployment tests, and what it started (read from ``/proc``).

It runs in a folder whose ``trestle.toml`` gives the ``vendors`` integration a one-minute interval
of its own in a time zone that is not the default, and pauses ``weekly-full-refresh``, so the
tests can watch Prefect's own scheduler create and fire runs from configuration.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.deployments.prefect_api import PrefectApi
from trestle.deployments.local import free_port

ROOT = Path(__file__).resolve().parents[2]
READY = "Ctrl-C stops everything."
STOPPED = "trestle up: stopped everything it started."
STARTUP_TIMEOUT = 240.0
FAST_DEPLOYMENT, FAST_TIMEZONE, FAST_INTERVAL = "vendors", "Pacific/Auckland", 60
PAUSED_DEPLOYMENT = "weekly-full-refresh"
SCHEDULES_TOML = f"""
[schedules.{FAST_DEPLOYMENT}]
interval = {FAST_INTERVAL}
timezone = "{FAST_TIMEZONE}"

[schedules.{PAUSED_DEPLOYMENT}]
active = false
"""


@dataclass(frozen=True)
class ProcessInfo:
    """A process seen in ``/proc``: enough to tell it apart from a later one with the same pid."""

    pid: int
    ppid: int
    pgid: int
    start_ticks: int
    state: str
    command: str


@dataclass
class Up:
    """The running ``trestle up`` and what it printed."""

    process: subprocess.Popen[str]
    cwd: Path
    home: Path
    lines: list[str]
    reader: threading.Thread
    port: int
    urls: dict[str, str] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def api_url(self) -> str:
        return self.urls["api"]

    @property
    def ui_url(self) -> str:
        return self.urls["ui"]

    @property
    def api(self) -> PrefectApi:
        """The Prefect REST API of this install."""
        return PrefectApi(self.api_url)

    def serve_log(self, lines: int = 40) -> str:
        log = self.home / "logs" / "serve.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def server_log(self, lines: int = 40) -> str:
        log = self.home / "logs" / "prefect-server.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float) -> int:
        """SIGTERM ``trestle up`` and wait for it (and for the end of its output)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self.reader.join(10)
        return code


def _proc_table() -> dict[int, ProcessInfo]:
    """Every process on the machine, from ``/proc``."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # it ended while we looked
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        table[int(entry.name)] = ProcessInfo(
            pid=int(entry.name),
            ppid=int(fields[1]),
            pgid=int(fields[2]),
            start_ticks=int(fields[19]),
            state=fields[0],
            command=command,
        )
    return table


def descendants(pid: int) -> list[ProcessInfo]:
    """The processes started by ``pid``, their children and so on."""
    table = _proc_table()
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [info for info in table.values() if info.ppid == parent]
        found += children
        frontier += [child.pid for child in children]
    return found


def still_running(processes: list[ProcessInfo]) -> list[ProcessInfo]:
    """Those of ``processes`` still alive (same pid and start time, not a zombie)."""
    table = _proc_table()
    return [
        now
        for before in processes
        if (now := table.get(before.pid)) and now.start_ticks == before.start_ticks and now.state != "Z"
    ]


def group_members(pgid: int) -> list[ProcessInfo]:
    """Live processes in process group ``pgid`` (empty when ``os.killpg(pgid, 0)`` finds none)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return []
    return [info for info in _proc_table().values() if info.pgid == pgid and info.state != "Z"]


def _kill_everything(up: Up, processes: list[ProcessInfo]) -> None:
    """Last resort after a failed stop: SIGKILL ``trestle up`` and whatever it started."""
    for pgid in {up.process.pid, *(info.pgid for info in processes)}:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    up.process.wait(10)


def _read_lines(process: subprocess.Popen[str], lines: list[str], out: queue.Queue[str | None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        out.put(line)
    out.put(None)


def _parse_urls(output: str) -> dict[str, str]:
    ui = re.search(r"^Prefect UI:\s+(\S+)\s+\(API (\S+)\)", output, re.MULTILINE)
    sandboxes = re.search(r"^Sandboxes:\s+Xero (\S+), Procore (\S+) ", output, re.MULTILINE)
    assert ui and sandboxes, f"trestle up did not say where the UI and sandboxes are:\n{output}"
    return {"ui": ui[1], "api": ui[2], "xero": sandboxes[1], "procore": sandboxes[2]}


@contextlib.contextmanager
def running_up(workdir: Path) -> Iterator[Up]:
    """``trestle up`` in ``workdir`` on a free port with the small sandbox data set, stopped on exit."""
    (workdir / "trestle.toml").write_text(SCHEDULES_TOML)
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRESTLE_")}
    env.pop("PREFECT_API_URL", None)
    env.update(
        {
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "TRESTLE_PROJECT_DIR": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    port = free_port()
    argv = [sys.executable, "-m", "trestle.cli", "up", "--home", str(workdir / "home"), "--port", str(port)]
    argv += ["--xero-port", "0", "--procore-port", "0", "--dataset", "small"]
    process = subprocess.Popen(
        argv,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    received: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(process, lines, received), daemon=True)
    reader.start()
    running = Up(process, workdir, workdir / "home", lines, reader, port)
    started: list[ProcessInfo] = []
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                line = received.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"trestle up was not ready within {STARTUP_TIMEOUT:.0f} s:\n{running.output}")
            if line is None:
                pytest.fail(f"trestle up exited with {process.wait(10)} before it was ready:\n{running.output}")
            if line.strip() == READY:
                break
        running.urls = _parse_urls(running.output)
        started = descendants(process.pid)
        yield running
    finally:
        started = started or descendants(process.pid)
        try:
            running.stop(timeout=60)
        except subprocess.TimeoutExpired:
            _kill_everything(running, started)


def quieten(api: PrefectApi, deployment_name: str, timeout: float = 240) -> None:
    """Pause a deployment's schedules, delete its scheduled runs and wait until none is pending or running.

    The one-minute schedule must not run beside the nightly run the other tests start.
    """
    deployment = api.deployment(deployment_name)
    for schedule in deployment["schedules"]:
        api("PATCH", f"/deployments/{deployment['id']}/schedules/{schedule['id']}", json={"active": False})
    mine = {"deployments": {"id": {"any_": [deployment["id"]]}}}
    scheduled = {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}, "limit": 200}
    for run in api("POST", "/flow_runs/filter", json={**mine, **scheduled}):
        api("DELETE", f"/flow_runs/{run['id']}")
    deadline = time.monotonic() + timeout
    busy = {"flow_runs": {"state": {"type": {"any_": ["PENDING", "RUNNING"]}}}}
    while api("POST", "/flow_runs/count", json={**mine, **busy}):
        assert time.monotonic() < deadline, f"{deployment_name} still running {timeout:.0f} s after its pause"
        time.sleep(2)
