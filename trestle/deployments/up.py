"""``trestle up``: a whole single-box install in one command.

Starts, in order: the sandboxes (unless real Procore and Xero are configured), the link store's
schema, a Prefect server on 127.0.0.1 with its UI, the ``trestle`` process work pool (for
``prefect deploy --all`` and workers), ``trestle serve`` with every deployment, and the portal. It prints
where everything is and, on Ctrl-C or SIGTERM, stops everything it started, newest first.

With ``PREFECT_SERVER_API_AUTH_STRING=user:password`` in its environment the server requires
that login and every process ``up`` starts gets it as ``PREFECT_API_AUTH_STRING``; binding
``--host`` beyond loopback without it prints a warning.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from trestle.clients.errors import remember_secrets
from trestle.deployments.catalog import WORK_POOL, deployment_specs
from trestle.deployments.local import (
    CLIENT_AUTH_VARIABLE,
    SERVER_AUTH_VARIABLE,
    ChildProcess,
    PrefectServer,
    StartupError,
    ensure_process_work_pool,
    exposure_warning,
    free_port,
    start_prefect_server,
)
from trestle.deployments.schedules import schedules_for
from trestle.settings import ConfigError, PortalSettings, install_settings, load_settings, pair_names


@dataclass
class UpOptions:
    """What ``trestle up`` was asked for (the CLI's flags)."""

    home: Path
    host: str = "127.0.0.1"
    port: int = 4200
    sandbox: bool | None = None  # None: only when no real connection is configured
    dataset: str = "medium"
    rate_limits: str = "scaled:10"
    xero_port: int = 4010
    procore_port: int = 4020
    serve: bool = True
    timezone: str | None = None
    public_url: str | None = None  # the UI's address for other machines' browsers (default: this machine's)
    portal_port: int | None = None  # None: the [portal] setting; 0: any free port


def up(options: UpOptions, *, ready: threading.Event | None = None, stop: threading.Event | None = None) -> int:
    """Run everything until Ctrl-C / SIGTERM (or ``stop``); return 0, or 2 if a part died."""
    stop = stop or threading.Event()
    started: list[Any] = []
    previous = _install_stop_handlers(stop)
    try:
        lines = _start_everything(options, started)
        print("\n".join(lines), flush=True)
        if ready is not None:
            ready.set()
        return _watch(started, stop)
    except (StartupError, ConfigError) as exc:
        print(f"trestle up: {exc}", file=sys.stderr)
        return 2
    finally:
        for part in reversed(started):
            part.stop()
        _restore_handlers(previous)
        if started:
            print("trestle up: stopped everything it started.", flush=True)


def _start_everything(options: UpOptions, started: list[Any]) -> list[str]:
    from trestle.db import make_engine, upgrade

    home = options.home
    home.mkdir(parents=True, exist_ok=True)
    os.environ["TRESTLE_HOME"] = str(home)
    os.environ.setdefault("TRESTLE_PROJECT_DIR", str(Path.cwd()))
    lines = []
    if _wants_sandbox(options):
        from trestle.sandbox.procore.authorize import sandbox_portal_env
        from trestle.sandbox.server import start_sandboxes

        sandboxes = start_sandboxes(
            dataset=options.dataset,
            rate_limits=options.rate_limits,
            state_dir=home / "sandbox",
            xero_port=options.xero_port,
            procore_port=options.procore_port,
        )
        started.append(sandboxes)
        os.environ.update(sandboxes.env)
        os.environ.update({key: value for key, value in sandbox_portal_env().items() if key not in os.environ})
        lines.append(f"Sandboxes:   Xero {sandboxes.xero.url}, Procore {sandboxes.procore.url} ({options.dataset})")
    settings = install_settings()
    schedules_for(deployment_specs(pair_names()), options.timezone)  # a bad schedule fails here, named
    engine = make_engine(settings.database_url or "")
    upgrade(engine)
    lines.append(f"Link store:  {engine.url.render_as_string(hide_password=True)}")

    auth_string = os.environ.get(SERVER_AUTH_VARIABLE) or None
    remember_secrets(auth_string)
    if warning := exposure_warning(options.host, auth_string):
        print(f"trestle up: WARNING: {warning}", file=sys.stderr, flush=True)
    server = start_prefect_server(
        home=home / "prefect",
        host=options.host,
        port=options.port,
        log_path=home / "logs" / "prefect-server.log",
        auth_string=auth_string,
        public_url=options.public_url,
    )
    started.append(server)
    os.environ.update(server.env)
    ensure_process_work_pool(WORK_POOL, os.environ)
    lines.insert(0, f"Prefect UI:  {server.ui_url}   (API {server.api_url})")
    if options.serve:
        argv = [sys.executable, "-m", "trestle.cli", "serve"]
        if options.timezone:
            argv += ["--timezone", options.timezone]
        serving = ChildProcess.start("trestle serve", argv, env=os.environ, log_path=home / "logs" / "serve.log")
        started.append(serving)
        expected = len(deployment_specs(pair_names()))
        _wait_for_deployments(server, serving, expected)
        lines.append(f"Deployments: {expected} served by this process (schedules in the UI's Deployments page)")
    else:
        lines.append(f"Deployments: none served; `prefect deploy --all` then `prefect worker start --pool {WORK_POOL}`")
    lines.insert(1, _start_portal(options, settings.portal, started))
    lines += [
        f"Logs:        {home / 'logs'}",
        f"Other shells: export PREFECT_API_URL={server.api_url}"
        + (f" and {CLIENT_AUTH_VARIABLE} (the same user:password)" if auth_string else ""),
        "Ctrl-C stops everything.",
    ]
    return lines


def _start_portal(options: UpOptions, portal: PortalSettings, started: list[Any], timeout: float = 60) -> str:
    """Start ``trestle portal`` as a child and wait until its sign-in page answers; the line to print."""
    port = portal.port if options.portal_port is None else options.portal_port
    portal = portal.model_copy(update={"port": port or free_port(portal.host)})
    argv = [sys.executable, "-m", "trestle.cli", "portal", "--port", str(portal.port)]
    child = ChildProcess.start("trestle portal", argv, env=os.environ, log_path=options.home / "logs" / "portal.log")
    started.append(child)
    deadline = time.monotonic() + timeout
    local = f"http://{portal.host}:{portal.port}"
    while True:
        if not child.running:
            raise StartupError(f"trestle portal exited with code {child.process.returncode}:\n{child.log_tail()}")
        try:
            if httpx.get(f"{local}/login", timeout=5).status_code == 200:
                return f"Portal:      {portal.base_url}   (sign in with Procore)"
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise StartupError(f"trestle portal did not answer within {timeout:.0f} s:\n{child.log_tail()}")
        time.sleep(0.5)


def _wants_sandbox(options: UpOptions) -> bool:
    if options.sandbox is not None:
        return options.sandbox
    try:
        if pair_names():
            return False
        load_settings(secrets=False).require_connections()
    except ConfigError:
        return True
    return False


def _wait_for_deployments(server: PrefectServer, serving: ChildProcess, expected: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not serving.running:
            raise StartupError(f"trestle serve exited with code {serving.process.returncode}:\n{serving.log_tail()}")
        response = httpx.post(
            f"{server.api_url}/deployments/filter", json={"limit": 200}, timeout=5, auth=server.http_auth
        )
        ready = [item for item in response.json() if item.get("status") == "READY"] if response.is_success else []
        if len(ready) >= expected:  # registered, and `serve` is polling for their runs
            return
        time.sleep(1)
    raise StartupError(f"trestle serve did not register {expected} deployments:\n{serving.log_tail()}")


def _watch(started: list[Any], stop: threading.Event) -> int:
    children = [part for part in started if isinstance(part, ChildProcess | PrefectServer)]
    while not stop.wait(1.0):
        for part in children:
            child = part.child if isinstance(part, PrefectServer) else part
            if not child.running:
                print(
                    f"trestle up: {child.name} exited with code {child.process.returncode}; stopping.\n"
                    f"{child.log_tail()}",
                    file=sys.stderr,
                )
                return 2
    return 0


def _install_stop_handlers(stop: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    return {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_handlers(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
