"""``trestle up`` end to end: sandboxes, a Prefect server with its UI, the work pool, every deployment served.

One ``trestle up`` subprocess (``tests/deployments/conftest.py``) serves the package. The tests
talk to it as a user would: the Prefect REST API over HTTP, the Procore and Xero sandboxes' APIs,
and the UI in headless Chromium (screenshots go to ``TRESTLE_SCREENSHOT_DIR`` when set, e.g.
``docs/screenshots``). The last test stops it with SIGTERM and checks nothing it started is left running or listening.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from prefect.flows import load_flow_from_entrypoint

from tests.browser import Chromium, require_chromium
from tests.deployments.install import (
    FAST_DEPLOYMENT,
    FAST_INTERVAL,
    FAST_TIMEZONE,
    PAUSED_DEPLOYMENT,
    STOPPED,
    Up,
    descendants,
    group_members,
    still_running,
)
from tests.integrations.apis import procore_api, tracking_options, xero_api
from trestle.deployments.catalog import DEFAULT_TIMEZONE, WORK_POOL, deployment_specs
from trestle.deployments.local import port_in_use
from trestle.flows import get_flow
from trestle.integrations import REGISTRY, integration
from trestle.naming import project_option_name
from trestle.sandbox.scenario import SEND_STAGE
from trestle.sandbox.server import sandbox_env

# The module's fixtures start an install and a nightly run: more than the suite's default per-test limit.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def sandbox_settings(up: Up) -> dict[str, str]:
    """``TRESTLE_*`` settings for the sandboxes ``trestle up`` started (same data set and seed)."""
    return sandbox_env(up.urls["xero"], up.urls["procore"], dataset="small")


@pytest.fixture(scope="module")
def gated_project(sandbox_settings: dict[str, str]) -> dict[str, Any]:
    """An active, numbered Procore project that is not at the send-to-Xero stage and not in Xero yet.

    The small data set has every project at the stage, so one that Xero does not know is moved to
    another stage through the Procore API (as a project manager would) before the nightly run.
    """
    env = sandbox_settings
    company = env["TRESTLE_PROCORE_COMPANY_ID"]
    with xero_api(env) as xero:
        known = set(tracking_options(xero, "Project"))
    with procore_api(env) as api:
        params = {"company_id": company, "per_page": 1000, "filters[by_status]": "All", "view": "normal"}
        projects = api.get("/rest/v1.1/projects", params=params).json()
        candidates = [
            project
            for project in projects
            if project.get("active", True)
            and project.get("project_number")
            and project_option_name(project["project_number"], project["name"]) not in known
        ]
        assert candidates, "the Procore sandbox has no numbered project that Xero does not know"
        off_stage = [project for project in candidates if _stage(project) != SEND_STAGE]
        if off_stage:
            return off_stage[0]
        project = candidates[0]
        stages = api.get(f"/rest/v1.0/companies/{company}/project_stages").json()
        other = next(stage for stage in stages if stage["name"] != SEND_STAGE)
        response = api.patch(
            f"/rest/v1.0/projects/{project['id']}",
            json={"company_id": int(company), "project": {"project_stage_id": other["id"]}},
        )
        assert response.status_code == 200, response.text
    moved = response.json()
    assert _stage(moved) == other["name"], moved
    return moved


def _stage(project: dict[str, Any]) -> str | None:
    """A Procore project's stage name (``stage`` in lists, ``project_stage`` in a project's own view)."""
    return project.get("stage") or (project.get("project_stage") or {}).get("name")


def _run_deployment(
    up: Up, name: str, parameters: dict[str, Any] | None = None, timeout: float = 300
) -> dict[str, Any]:
    """Start a flow run of deployment ``name`` as the UI's Run button does and wait until it ends."""
    run_id = up.api.start_run(name, parameters)

    def still_serving() -> str | None:
        return None if up.process.poll() is None else f"trestle up exited while {name} ran:\n{up.output}"

    return up.api.wait([run_id], timeout, still_serving=still_serving, details=up.serve_log)[run_id]


@pytest.fixture(scope="module")
def nightly_run(up: Up, gated_project: dict[str, Any], quiet_schedules: None) -> dict[str, Any]:
    """A finished run of the ``nightly`` deployment, started over the REST API with its defaults."""
    return _run_deployment(up, "nightly", timeout=300)


def _load_entrypoint(up: Up, deployment: dict[str, Any]) -> Any:
    """The flow a deployment's run loads: a module path as is, a file path from where ``trestle up`` ran."""
    entrypoint = deployment["entrypoint"]
    if ":" in entrypoint:
        file, attribute = entrypoint.rsplit(":", 1)
        entrypoint = f"{(up.cwd / (deployment['path'] or '.') / file).resolve()}:{attribute}"
    try:
        return load_flow_from_entrypoint(entrypoint, use_placeholder_flow=False)
    except Exception as exc:
        pytest.fail(f"{deployment['name']}: its runs cannot load {deployment['entrypoint']!r}: {exc}")


def _served_when_polled(up: Up, timeout: float = 60) -> dict[str, dict[str, Any]]:
    """Every deployment by name, once ``trestle serve`` has polled for their runs (status READY)."""
    deadline = time.monotonic() + timeout
    while True:
        served = {item["name"]: item for item in up.api("POST", "/deployments/filter", json={})}
        waiting = sorted(name for name, item in served.items() if item["status"] != "READY")
        if not waiting:
            return served
        assert time.monotonic() < deadline, f"not polled by trestle serve after {timeout:.0f} s: {waiting}"
        time.sleep(1)


def _integration_runs(up: Up, flow_run_id: str) -> dict[str, dict[str, Any]]:
    """The task runs of a nightly flow run that are its integrations, by integration name."""
    shown = {name.replace("_", "-"): name for name in REGISTRY}
    body = {"flow_runs": {"id": {"any_": [flow_run_id]}}, "task_runs": {"name": {"any_": list(shown)}}}
    return {shown[run["name"]]: run for run in up.api("POST", "/task_runs/filter", json=body)}


def _artifacts(up: Up, flow_run_ids: list[str]) -> list[dict[str, Any]]:
    return up.api("POST", "/artifacts/filter", json={"flow_runs": {"id": {"any_": flow_run_ids}}})


# --------------------------------------------------------------------------- tests
def test_up_serves_every_catalog_deployment_with_its_schedule_and_defaults(up: Up) -> None:
    assert urlsplit(up.ui_url).port == up.port and up.api_url == f"{up.ui_url}/api", up.output
    specs = deployment_specs()
    assert f"Deployments: {len(specs)} served by this process" in up.output
    served = _served_when_polled(up)
    assert set(served) == {spec.name for spec in specs}
    flows = {item["id"]: item["name"] for item in up.api("POST", "/flows/filter", json={})}
    for spec in specs:
        deployment = served[spec.name]
        assert flows[deployment["flow_id"]] == get_flow(spec.flow).name, spec.name
        assert _load_entrypoint(up, deployment).name == get_flow(spec.flow).name, deployment["entrypoint"]
        assert deployment["parameters"] == spec.parameters, spec.name
        assert set(deployment["tags"]) == set(spec.tags), spec.name
        assert deployment["description"] == spec.description, spec.name
        schedules = [
            (item["schedule"].get("cron"), item["schedule"].get("interval"), item["schedule"].get("timezone"))
            for item in deployment["schedules"]
        ]
        if spec.name == FAST_DEPLOYMENT:  # trestle.toml schedules it on its own (active: see test_scheduler.py)
            assert schedules == [(None, FAST_INTERVAL, FAST_TIMEZONE)], spec.name
            continue
        assert schedules == ([(spec.cron, None, DEFAULT_TIMEZONE)] if spec.cron else []), spec.name
        active = [item["active"] for item in deployment["schedules"]]
        assert active == ([spec.name != PAUSED_DEPLOYMENT] if spec.cron else []), f"{spec.name}: {active}"
    # A parameter without a default is what makes the UI's custom run form ask for it.
    single = served["single-project"]["parameter_openapi_schema"]
    assert single.get("required") == ["project_number"], single
    assert single["properties"]["project_number"]["type"] == "string"
    assert served["single-project"]["enforce_parameter_schema"] is True
    pool = up.api("GET", f"/work_pools/{WORK_POOL}")
    assert pool["type"] == "process"


def test_nightly_run_from_the_api_completes_with_artifacts_for_it_and_each_integration(
    up: Up, nightly_run: dict[str, Any]
) -> None:
    assert nightly_run["state_type"] == "COMPLETED", f"{nightly_run['state']}\n{up.serve_log()}"
    titles = [integration(name).title for name in REGISTRY]
    artifacts = _artifacts(up, [nightly_run["id"]])
    markdown = [item for item in artifacts if item["type"] == "markdown"]
    tables = {item["key"]: item for item in artifacts if item["type"] == "table"}
    stems = ["nightly", *(name.replace("_", "-") for name in REGISTRY)]
    # one summary per integration and the night; Prefect's client resends a POST whose answer timed
    # out on a busy server, so a key may hold two versions: then they are the same summary
    assert {item["key"] for item in markdown} == {f"trestle-{stem}-summary" for stem in stems}, markdown
    for key in {item["key"] for item in markdown}:
        versions = [item for item in markdown if item["key"] == key]
        assert len({item["data"] for item in versions}) == 1, versions
    assert set(tables) == {f"trestle-{stem}-{kind}" for stem in stems for kind in ("integrations", "records")}
    night = next(item["data"] for item in markdown if item["key"] == "trestle-nightly-summary")
    assert all(title in night for title in titles), night[:2000]
    data = tables["trestle-nightly-integrations"]["data"]
    rows = json.loads(data) if isinstance(data, str) else data
    assert [row["integration"] for row in rows] == titles
    assert all(row["outcome"] != "failed" for row in rows), rows

    runs = _integration_runs(up, nightly_run["id"])
    assert set(runs) == set(REGISTRY), runs
    assert all(run["state_type"] == "COMPLETED" for run in runs.values()), runs
    # each integration's own artifacts hang from its task run (sent in its context, from the background)
    for name, run in runs.items():
        stem = f"trestle-{name.replace('_', '-')}"
        keys = {item["key"] for item in artifacts if item["task_run_id"] == run["id"]}
        assert {f"{stem}-summary", f"{stem}-integrations"} <= keys, f"{name}: {sorted(k for k in keys if k)}"
    # each integration's progress bar, finished before the run ended (sent from the background)
    progress = [item["data"] for item in artifacts if item["type"] == "progress"]
    assert len(progress) >= len(REGISTRY) and set(progress) == {100.0}, progress

    latest = up.api(
        "POST", "/artifacts/latest/filter", json={"artifacts": {"key": {"any_": ["trestle-nightly-summary"]}}}
    )
    assert [item["key"] for item in latest] == ["trestle-nightly-summary"]
    if latest[0]["flow_run_id"] != nightly_run["id"]:  # a scheduled nightly run may have finished since
        newer = up.api("GET", f"/flow_runs/{latest[0]['flow_run_id']}")
        assert newer["deployment_id"] == nightly_run["deployment_id"] and newer["created"] > nightly_run["created"]


def test_single_project_run_with_a_project_number_ignores_the_stage_gate(
    up: Up, sandbox_settings: dict[str, str], gated_project: dict[str, Any], nightly_run: dict[str, Any]
) -> None:
    option = project_option_name(gated_project["project_number"], gated_project["name"])
    with xero_api(sandbox_settings) as xero:
        assert option not in tracking_options(xero, "Project"), "the nightly run sent a project not at the stage"

    run = _run_deployment(up, "single-project", {"project_number": gated_project["project_number"]}, timeout=240)

    assert run["state_type"] == "COMPLETED", f"{run['state']}\n{up.serve_log()}"
    assert run["parameters"]["project_number"] == gated_project["project_number"]
    assert run["parameters"]["dry_run"] is False, "the deployment's defaults fill in the rest"
    with xero_api(sandbox_settings) as xero:
        assert option in tracking_options(xero, "Project"), f"{option} did not reach Xero"
    keys = {item["key"] for item in _artifacts(up, [run["id"]])}
    number = re.sub(r"[^a-z0-9]+", "-", gated_project["project_number"].lower()).strip("-")
    assert f"trestle-single-project-{number}-summary" in keys, keys


def test_scheduled_integration_deployment_runs_its_flow(up: Up, nightly_run: dict[str, Any]) -> None:
    """``payments-hourly`` runs the payments flow from its own module (after the nightly run linked everything)."""
    run = _run_deployment(up, "payments-hourly", timeout=180)

    assert run["state_type"] == "COMPLETED", f"{run['state']}\n{up.serve_log()}"
    assert run["parameters"] == {"dry_run": False, "full_refresh": False, "notify": False}
    keys = {item["key"] for item in _artifacts(up, [run["id"]])}
    assert {"trestle-payments-summary", "trestle-payments-integrations"} <= keys, keys


def test_ui_shows_the_deployments_and_the_nightly_runs_artifacts(
    up: Up, nightly_run: dict[str, Any], tmp_path: Path
) -> None:
    browser = Chromium(require_chromium())
    shots = Path(os.environ.get("TRESTLE_SCREENSHOT_DIR") or tmp_path)
    # The address trestle up prints sends a browser on to the default UI (Prefect 3.8: the new UI under /v2).
    landing = httpx.get(f"{up.ui_url}/", headers={"Accept": "text/html"}, follow_redirects=True, timeout=30)
    assert landing.status_code == 200
    base = str(landing.url).rstrip("/")

    pages: list[tuple[str, str, list[str], int]] = []
    names = [spec.name for spec in deployment_specs()]
    pages.append(("deployments.png", f"{base}/deployments?limit=25", names, 1000))
    run_url = f"{base}/runs/flow-run/{nightly_run['id']}"
    # the tab lists the newest task runs first (a page of them): the night's own summary is among them
    pages.append(("flow-run.png", f"{run_url}?tab=TaskRuns", [nightly_run["name"], "summary-nightly"], 1500))
    pages.append(
        (
            "flow-run-artifacts.png",
            f"{run_url}?tab=Artifacts",
            ["trestle-nightly-summary", "trestle-nightly-integrations"],
            1000,
        )
    )
    summary = next(item for item in _artifacts(up, [nightly_run["id"]]) if item["key"] == "trestle-nightly-summary")
    titles = [integration(name).title for name in REGISTRY]
    pages.append(("nightly-summary.png", f"{base}/artifacts/artifact/{summary['id']}", titles, 1600))

    for filename, url, expected, height in pages:
        html = browser.dom(url, expected)
        missing = [text for text in expected if text not in html]
        assert not missing, f"{url} rendered without {missing}:\n{html[:3000]}"
        browser.screenshot(url, shots / filename, height=height)
        assert (shots / filename).stat().st_size > 20_000, f"{filename} looks blank"


def test_runs_send_their_logs_to_the_prefect_ui(up: Up, nightly_run: dict[str, Any]) -> None:
    """The README's "Logs shows each step": the run page's Logs tab has Prefect's INFO records."""
    body = {"logs": {"flow_run_id": {"any_": [nightly_run["id"]]}, "level": {"ge_": 20}}, "limit": 200}
    messages = [item["message"] for item in up.api("POST", "/logs/filter", json=body)]
    assert any(message.startswith("Beginning flow run") for message in messages), (
        f"the nightly run sent {len(messages)} log records at INFO or above: {messages[:5]}"
    )


def test_sigterm_stops_everything_it_started(up: Up) -> None:
    started = descendants(up.process.pid)
    commands = " | ".join(info.command for info in started)
    assert "prefect server start" in commands and "trestle.cli serve" in commands, commands
    ports = [up.port, *(urlsplit(up.urls[name]).port or 0 for name in ("xero", "procore"))]
    assert all(port_in_use("127.0.0.1", port) for port in ports)

    began = time.monotonic()
    try:
        code = up.stop(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"trestle up still running 30 s after SIGTERM:\n{up.output}")
    assert code == 0, up.output
    assert STOPPED in up.output
    assert time.monotonic() - began < 30

    deadline = time.monotonic() + 10  # let init reap what was orphaned
    while (left := still_running(started)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"left running: {[(info.pid, info.command) for info in left]}"
    for pgid in {up.process.pid, *(info.pgid for info in started)}:
        assert not group_members(pgid), f"process group {pgid} still has members"
    listening = [port for port in ports if port_in_use("127.0.0.1", port)]
    assert not listening, f"still accepting connections on {listening}"
