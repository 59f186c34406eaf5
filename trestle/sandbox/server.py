"""Start both simulators and tell Trestle how to reach them.

:func:`start_sandboxes` serves the Xero and Procore apps on loopback (in background threads)
and returns their addresses plus the ``TRESTLE_*`` settings that point Trestle at them.
``trestle sandbox`` wraps it for the command line and runs until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import shlex
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

from trestle.sandbox.common import FaultConfig, SandboxRuntime, parse_rate_limit_mode, sandbox_client
from trestle.sandbox.runner import RunningServer, serve_in_thread
from trestle.sandbox.scenario import build_scenario


@dataclass
class Sandboxes:
    """Both running simulators."""

    xero: RunningServer
    procore: RunningServer
    env: dict[str, str]
    xero_runtime: SandboxRuntime
    procore_runtime: SandboxRuntime

    def stop(self) -> None:
        self.xero.stop()
        self.procore.stop()

    def env_file_text(self) -> str:
        lines = ["# Trestle settings for the local sandboxes (written by `trestle sandbox`)."]
        lines += [f"{key}={shlex.quote(value)}" for key, value in self.env.items()]
        return "\n".join(lines) + "\n"


def start_sandboxes(
    *,
    dataset: str = "small",
    seed: int = 1,
    rate_limits: str = "real",
    faults: FaultConfig | None = None,
    state_dir: Path | None = None,
    host: str = "127.0.0.1",
    xero_port: int = 0,
    procore_port: int = 0,
    strict: bool = True,
) -> Sandboxes:
    """Serve both simulators (port 0 picks a free port) and return them with their settings."""
    from trestle.sandbox.procore import create_app as create_procore_app
    from trestle.sandbox.xero import create_app as create_xero_app

    parse_rate_limit_mode(rate_limits)  # fail early on a bad mode
    runtimes = {
        name: SandboxRuntime(
            name=name,
            dataset=dataset,
            seed=seed,
            rate_limit_mode=rate_limits,
            state_dir=state_dir,
            strict=strict,
        )
        for name in ("xero", "procore")
    }
    for runtime in runtimes.values():
        runtime.faults.configure(faults or FaultConfig())
    xero = serve_in_thread(create_xero_app(runtimes["xero"]), host, xero_port)
    try:
        procore = serve_in_thread(create_procore_app(runtimes["procore"]), host, procore_port)
    except Exception:
        xero.stop()
        raise
    for runtime, server in ((runtimes["xero"], xero), (runtimes["procore"], procore)):
        runtime.public_url = server.url
    env = sandbox_env(xero.url, procore.url, dataset=dataset, seed=seed, rate_limits=rate_limits)
    return Sandboxes(xero, procore, env, runtimes["xero"], runtimes["procore"])


def sandbox_env(
    xero_url: str, procore_url: str, *, dataset: str = "small", seed: int = 1, rate_limits: str = "real"
) -> dict[str, str]:
    """The ``TRESTLE_*`` settings that point Trestle at simulators on these URLs.

    The shared API budgets follow the simulators' clock: off when their limits are off, and F
    times the real budget under ``scaled:F``.
    """
    scenario = build_scenario(dataset, seed)
    xero_client, procore_client = sandbox_client("xero", seed), sandbox_client("procore", seed)
    speed = parse_rate_limit_mode(rate_limits)
    limits = (
        {"TRESTLE_SYNC_SHARED_LIMITS": "off"}
        if speed is None
        else {
            "TRESTLE_SYNC_XERO_CALLS_PER_MINUTE": str(min(10_000, int(55 * speed))),
            "TRESTLE_SYNC_PROCORE_CALLS_PER_MINUTE": str(min(10_000, int(60 * speed))),
        }
    )
    return {
        **limits,
        "TRESTLE_XERO_API_URL": xero_url,
        "TRESTLE_XERO_IDENTITY_URL": xero_url,
        "TRESTLE_XERO_WEB_URL": xero_url,
        "TRESTLE_XERO_TENANT_ID": scenario.xero_tenant_id,
        "TRESTLE_XERO_CLIENT_ID": xero_client.client_id,
        "TRESTLE_XERO_CLIENT_SECRET": xero_client.client_secret,
        "TRESTLE_PROCORE_API_URL": procore_url,
        "TRESTLE_PROCORE_LOGIN_URL": procore_url,
        "TRESTLE_PROCORE_WEB_URL": procore_url,
        "TRESTLE_PROCORE_COMPANY_ID": str(scenario.procore_company_id),
        "TRESTLE_PROCORE_CLIENT_ID": procore_client.client_id,
        "TRESTLE_PROCORE_CLIENT_SECRET": procore_client.client_secret,
    }


def serve_forever(sandboxes: Sandboxes) -> None:
    """Block until SIGTERM or Ctrl-C, then stop both servers cleanly."""
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            if not (sandboxes.xero.thread.is_alive() and sandboxes.procore.thread.is_alive()):
                break
    finally:
        sandboxes.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
