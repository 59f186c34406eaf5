"""Both simulators in a child process, driven through their ``/_sandbox`` control routes.

The benchmark runs the flows in its own process and the sandboxes in another, so memory figures
are Trestle's alone and the simulators do not compete with the flow for the interpreter lock (as
on a real install, where the APIs are remote).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

SYSTEMS = ("xero", "procore")
_URL_SETTINGS = {"xero": "TRESTLE_XERO_API_URL", "procore": "TRESTLE_PROCORE_API_URL"}
_TOKEN_ROUTES = ("POST /connect/token", "POST /oauth/token")
_WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def read_env_file(path: Path) -> dict[str, str]:
    """The ``KEY=value`` lines of an env file written by ``trestle sandbox --env-file`` (values shell-quoted)."""
    settings: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("=")
        settings[key.strip()] = shlex.split(value)[0] if value.strip() else ""
    return settings


class SandboxProcess:
    """``trestle sandbox`` on free ports in a child process; a context manager that stops it on exit."""

    def __init__(
        self, *, dataset: str, seed: int, rate_limits: str, startup_timeout: float = 120.0, strict: bool = False
    ) -> None:
        """Start the sandboxes; ``strict`` keeps their spec checks on (the benchmarks turn them off)."""
        self.dataset = dataset
        self.seed = seed
        self.rate_limits = rate_limits
        self._folder = tempfile.TemporaryDirectory(prefix="trestle-bench-sandbox-")
        env_file = Path(self._folder.name) / "sandbox.env"
        command = [sys.executable, "-m", "trestle.cli", "sandbox", "--dataset", dataset, "--seed", str(seed)]
        # Benchmarks time Trestle, not the sandboxes' spec checks (about 2-3 ms per row in Xero's strict mode).
        if not strict:
            command += ["--lenient"]
        command += [
            "--rate-limits",
            rate_limits,
            "--xero-port",
            "0",
            "--procore-port",
            "0",
            "--env-file",
            str(env_file),
        ]
        self.log_path = Path(self._folder.name) / "sandbox.log"
        """Where the child's output goes (its strict-mode violations are logged there)."""
        self._log = self.log_path.open("w")
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self.env = self._wait_for_env(env_file, startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.urls = {system: self.env[_URL_SETTINGS[system]] for system in SYSTEMS}
        self._http = httpx.Client(timeout=60.0)

    def _wait_for_env(self, env_file: Path, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while not env_file.exists():
            if self._process.poll() is not None:
                raise RuntimeError(f"the sandbox process exited with {self._process.returncode}; see its log")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sandboxes did not start within {timeout:.0f} s")
            time.sleep(0.1)
        return read_env_file(env_file)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after 10 s) and remove its folder."""
        if getattr(self, "_http", None) is not None:
            self._http.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
        self._folder.cleanup()

    # -- control routes -------------------------------------------------------------------------

    def _post(self, system: str, route: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._http.post(f"{self.urls[system]}/_sandbox/{route}", json=body)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Both sandboxes back to the seeded data, with counters and faults cleared."""
        for system in SYSTEMS:
            self._post(system, "reset", {"dataset": self.dataset, "seed": self.seed})

    def set_faults(self, **config: Any) -> None:
        """The same fault configuration (``lost_rate``, ``error_rate``, ``seed``, …) on both sandboxes."""
        for system in SYSTEMS:
            self._post(system, "faults", config)

    def stats(self) -> dict[str, dict[str, Any]]:
        """``GET /_sandbox/stats`` of both sandboxes."""
        result = {}
        for system in SYSTEMS:
            response = self._http.get(f"{self.urls[system]}/_sandbox/stats")
            response.raise_for_status()
            result[system] = response.json()
        return result


def api_calls(stats: dict[str, Any]) -> int:
    """API requests a sandbox answered (its own count; the token endpoint and control routes excluded)."""
    return int(stats["total_requests"])


def token_calls(stats: dict[str, Any]) -> int:
    """Requests to a sandbox's OAuth token endpoint."""
    return sum(count for key, count in stats["requests"].items() if key in _TOKEN_ROUTES)


def write_calls(stats: dict[str, Any]) -> int:
    """API write requests (POST/PUT/PATCH/DELETE outside the token endpoint and control routes)."""
    return sum(
        count
        for key, count in stats["requests"].items()
        if key.split(" ", 1)[0] in _WRITE_METHODS and key not in _TOKEN_ROUTES and "/_sandbox" not in key
    )
