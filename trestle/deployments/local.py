"""A Prefect server and child processes on this machine, started and stopped by Trestle.

``trestle up`` and the scale-out tests use these: :func:`start_prefect_server` runs
``prefect server start`` bound to one address with analytics off and the UI pointed at that
address, and :class:`ChildProcess` stops what it started (its whole process group) on request.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

OFFLINE_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


class StartupError(RuntimeError):
    """A child process did not come up; the message carries the end of its log."""


@dataclass
class ChildProcess:
    """A process Trestle started in its own process group, with its output in ``log_path``."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, name: str, argv: Sequence[str], *, env: Mapping[str, str], log_path: Path) -> ChildProcess:
        """Start ``argv`` detached from the terminal's Ctrl-C (the parent decides when it stops)."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                list(argv), env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return cls(name, process, log_path)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM the process group, then SIGKILL what is left after ``timeout`` seconds."""
        if self.running:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(10)
        # Whatever the group's leader left behind (uvicorn workers, flow-run subprocesses).
        self._signal_group(signal.SIGKILL)
        return self.process.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)


SERVER_AUTH_VARIABLE = "PREFECT_SERVER_API_AUTH_STRING"
CLIENT_AUTH_VARIABLE = "PREFECT_API_AUTH_STRING"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def exposure_warning(host: str, auth_string: str | None) -> str | None:
    """A warning when a Prefect server would listen beyond this machine without a login."""
    if auth_string or host in LOOPBACK_HOSTS or host.startswith("127."):
        return None
    return (
        f"the Prefect server will listen on {host} without a login: anyone who can reach it can read the "
        f"Secret blocks (client secrets, SMTP password) and start runs. Set {SERVER_AUTH_VARIABLE}=user:password "
        f"for `trestle up` and {CLIENT_AUTH_VARIABLE} to the same value for every client (the UI asks for it; "
        "workers and `prefect deploy` read it), or keep --host 127.0.0.1 behind a TLS proxy"
    )


WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def machine_address() -> str:
    """This machine's address on its default route (no packet is sent), else its host name."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))
        return str(probe.getsockname()[0])
    return socket.gethostname()


def public_ui_url(host: str, port: int, public_url: str | None = None) -> str:
    """Where a browser finds the UI: ``public_url``, else the bind address (this machine's for 0.0.0.0)."""
    if public_url:
        return public_url.rstrip("/")
    shown = machine_address() if host in WILDCARD_HOSTS else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


@dataclass
class PrefectServer:
    """A running ``prefect server start`` and the settings that point clients at it."""

    host: str
    port: int
    child: ChildProcess
    auth_string: str | None = field(default=None, repr=False)

    @property
    def http_auth(self) -> httpx.BasicAuth | None:
        """HTTP Basic credentials for the API when the server has an auth string."""
        if not self.auth_string:
            return None
        user, _, password = self.auth_string.partition(":")
        return httpx.BasicAuth(user, password)

    public_url: str | None = None

    @property
    def ui_url(self) -> str:
        """The UI's address for a browser (on another machine too when bound to 0.0.0.0)."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The API for processes on this machine (a wildcard bind address is not connectable)."""
        return f"http://{WILDCARD_HOSTS.get(self.host, self.host)}:{self.port}/api"

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to talk to this server (workers, ``prefect deploy``, flows)."""
        login = {CLIENT_AUTH_VARIABLE: self.auth_string} if self.auth_string else {}
        return {**OFFLINE_ENV, "PREFECT_API_URL": self.api_url, **login}

    def stop(self) -> None:
        self.child.stop()


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def start_prefect_server(
    *,
    home: Path,
    host: str = "127.0.0.1",
    port: int = 4200,
    database_url: str | None = None,
    scheduler: bool = True,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    startup_timeout: float = 180.0,
    auth_string: str | None = None,
    public_url: str | None = None,
) -> PrefectServer:
    """Start a Prefect server and wait until its API answers.

    Its state lives under ``home`` (``PREFECT_HOME``) unless ``database_url`` names another
    database (``postgresql+asyncpg://...`` for an install with several workers). The UI is told
    the API's address, so it works when opened from this machine's browser. Its output goes to
    ``log_path`` (default ``home/logs/prefect-server.log``). With ``auth_string`` (``user:password``)
    the API and UI require that login (Prefect's ``PREFECT_SERVER_API_AUTH_STRING``); the
    server's :attr:`PrefectServer.env` then carries it for clients as ``PREFECT_API_AUTH_STRING``.
    """
    local_host = WILDCARD_HOSTS.get(host, host)
    if port_in_use(local_host, port):
        raise StartupError(f"{host}:{port} is already in use (another Prefect server?); choose another --port")
    api_url = f"http://{local_host}:{port}/api"
    ui = public_ui_url(host, port, public_url)
    server_env = {
        **(env if env is not None else os.environ),
        **OFFLINE_ENV,
        "PREFECT_HOME": str(home.resolve()),
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_API_URL": f"{ui}/api",  # the browser's way to the API, not this machine's
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "true" if scheduler else "false",
    }
    if database_url:
        server_env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    if auth_string:
        server_env[SERVER_AUTH_VARIABLE] = auth_string
    else:
        server_env.pop(SERVER_AUTH_VARIABLE, None)
    home.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port), "--analytics-off"]
    child = ChildProcess.start(
        "prefect server", argv, env=server_env, log_path=log_path or home / "logs" / "prefect-server.log"
    )
    server = PrefectServer(
        host, port, child, auth_string=auth_string, public_url=ui if (public_url or host in WILDCARD_HOSTS) else None
    )
    try:
        wait_for_http(f"{api_url}/health", child, timeout=startup_timeout)
    except BaseException:
        child.stop()
        raise
    return server


def wait_for_http(url: str, child: ChildProcess, *, timeout: float) -> None:
    """Poll ``url`` until it answers 200, failing early if ``child`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.running:
            raise StartupError(f"{child.name} exited with code {child.process.returncode}:\n{child.log_tail()}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise StartupError(f"{child.name} did not answer {url} within {timeout:.0f} s:\n{child.log_tail()}")


def ensure_process_work_pool(name: str, env: Mapping[str, str]) -> bool:
    """Create the ``process`` work pool ``name`` unless it exists; True when it was created."""
    check = subprocess.run(
        [sys.executable, "-m", "prefect", "work-pool", "inspect", name],
        env=dict(env),
        capture_output=True,
        text=True,
    )
    if check.returncode == 0:
        return False
    subprocess.run(
        [sys.executable, "-m", "prefect", "work-pool", "create", name, "--type", "process"],
        env=dict(env),
        capture_output=True,
        text=True,
        check=True,
    )
    return True
