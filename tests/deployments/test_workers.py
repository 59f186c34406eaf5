"""Scaling out: two Prefect process workers run two Procore company / Xero tenant pairs at once.

Everything is real: a ``prefect server start`` on PostgreSQL, ``prefect deploy --all`` from the
generated ``prefect.yaml``, two ``prefect worker start`` processes on the ``trestle`` process
pool, one link store on PostgreSQL, and two pairs of sandboxes (different seeds, so different
companies, tenants and credentials). One pair's Xero secret comes from a Prefect Secret block.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.deployments.prefect_api import PrefectApi
from tests.integrations.apis import procore_api, tracking_options, xero_api
from tests.postgres import temporary_database
from trestle.deployments.catalog import WORK_POOL
from trestle.deployments.local import ChildProcess, PrefectServer, ensure_process_work_pool, free_port
from trestle.deployments.local import start_prefect_server as start_server
from trestle.sandbox.server import Sandboxes, start_sandboxes

ROOT = Path(__file__).resolve().parents[2]
PAIRS = {"alpha": 1, "bravo": 2}  # pair name -> sandbox seed


@dataclass
class Install:
    """The scaled-out install under test."""

    server: PrefectServer
    sandboxes: dict[str, Sandboxes]
    database_url: str
    env: dict[str, str]

    @property
    def api(self) -> PrefectApi:
        """The Prefect REST API of this install."""
        return PrefectApi(self.server.api_url)


def _pair_table(name: str, env: dict[str, str], *, secret_in_block: bool) -> str:
    def section(prefix: str) -> dict[str, str]:
        return {key.removeprefix(prefix).lower(): value for key, value in env.items() if key.startswith(prefix)}

    procore, xero = section("TRESTLE_PROCORE_"), section("TRESTLE_XERO_")
    procore["company_id"] = int(procore["company_id"])  # type: ignore[assignment]
    if secret_in_block:
        xero.pop("client_secret")
        xero["client_secret_block"] = f"xero-{name}"
    lines = [f"[pairs.{name}]", f'title = "{name.title()} Constructions"']
    for table, values in (("procore", procore), ("xero", xero)):
        lines.append(f"[pairs.{name}.{table}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    home = tmp_path_factory.mktemp("scale-out")
    with temporary_database("trestle_links") as links_url, temporary_database("trestle_prefect") as prefect_url:
        sandboxes = {
            name: start_sandboxes(dataset="small", seed=seed, rate_limits="scaled:5") for name, seed in PAIRS.items()
        }
        config = home / "trestle.toml"
        limits = sandboxes["alpha"].env
        config.write_text(
            "\n\n".join(
                [
                    f'database_url = "{links_url}"',
                    '[sync]\nshared_limits = "on"\nbill_status = "AUTHORISED"\n'
                    f"xero_calls_per_minute = {limits['TRESTLE_SYNC_XERO_CALLS_PER_MINUTE']}\n"
                    f"procore_calls_per_minute = {limits['TRESTLE_SYNC_PROCORE_CALLS_PER_MINUTE']}",
                    *(
                        _pair_table(name, running.env, secret_in_block=name == "bravo")
                        for name, running in sandboxes.items()
                    ),
                ]
            )
            + "\n"
        )
        base_env = {key: value for key, value in os.environ.items() if not key.startswith(("TRESTLE_", "PREFECT_"))}
        base_env.update(
            {
                "TRESTLE_CONFIG": str(config),
                "TRESTLE_HOME": str(home / "trestle"),
                "TRESTLE_PROJECT_DIR": str(ROOT),
                "PREFECT_LOGGING_LEVEL": "INFO",
            }
        )
        server = start_server(
            home=home / "prefect",
            port=free_port(),
            database_url=prefect_url.replace("postgresql://", "postgresql+asyncpg://", 1),
            scheduler=False,
            env=base_env,
        )
        env = {**base_env, **server.env, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5"}
        workers: list[ChildProcess] = []
        try:
            _cli(["-m", "trestle.cli", "db", "upgrade"], env)
            _save_secret_block("xero-bravo", sandboxes["bravo"].env["TRESTLE_XERO_CLIENT_SECRET"], env)
            ensure_process_work_pool(WORK_POOL, env)
            prefect_file = home / "prefect.yaml"
            prefect_file.write_text(_cli(["-m", "trestle.cli", "deployments", "yaml"], env))
            _cli(["-m", "prefect", "--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_file)], env)
            for name in ("worker-1", "worker-2"):
                argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", WORK_POOL, "--name", name]
                workers.append(
                    ChildProcess.start(name, [*argv, "--limit", "1"], env=env, log_path=home / "logs" / f"{name}.log")
                )
            yield Install(server, sandboxes, links_url, env)
        finally:
            for worker in workers:
                worker.stop()
            server.stop()
            for running in sandboxes.values():
                running.stop()


def _cli(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _save_secret_block(name: str, value: str, env: dict[str, str]) -> None:
    code = "import sys; from prefect.blocks.system import Secret; Secret(value=sys.stdin.read()).save(sys.argv[1])"
    done = subprocess.run(
        [sys.executable, "-c", code, name], input=value, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_two_workers_run_two_pairs_in_parallel_on_postgres_without_crossing_data(install: Install) -> None:
    deployments = {name: install.api.deployment(f"nightly-{name}") for name in PAIRS}
    for name, deployment in deployments.items():
        assert deployment["parameters"]["pair"] == name
        assert deployment["work_pool_name"] == WORK_POOL
        assert f"pair:{name}" in deployment["tags"]
    run_ids = {name: install.api.start_run(f"nightly-{name}") for name in PAIRS}
    runs = install.api.wait(list(run_ids.values()), timeout=480)
    for name, run_id in run_ids.items():
        assert runs[run_id]["state_type"] == "COMPLETED", f"{name}: {runs[run_id]['state']}"

    # Both ran at the same time: each worker takes one run at a time, so they were on different workers.
    alpha, bravo = (runs[run_ids[name]] for name in PAIRS)
    assert _when(alpha["start_time"]) < _when(bravo["end_time"]) and _when(bravo["start_time"]) < _when(
        alpha["end_time"]
    ), "the two pairs' nightly runs did not overlap"

    _assert_pairs_kept_apart(install)
    _assert_shared_limits(install)


def _assert_pairs_kept_apart(install: Install) -> None:
    from trestle.db import make_engine
    from trestle.models.store import LinkStore

    engine = make_engine(install.database_url)
    options = {name: tracking_options(xero_api(running.env), "Project") for name, running in install.sandboxes.items()}
    projects = {}
    for name, running in install.sandboxes.items():
        with procore_api(running.env) as api:
            company = running.env["TRESTLE_PROCORE_COMPANY_ID"]
            projects[name] = {
                str(p["id"]) for p in api.get("/rest/v1.0/projects", params={"company_id": company}).json()
            }
    for name, other in (("alpha", "bravo"), ("bravo", "alpha")):
        store = LinkStore(engine, name)
        links = store.links("project")
        assert links, f"{name}: no project was linked"
        own_option_ids = {option["TrackingOptionID"] for option in options[name].values()}
        other_option_ids = {option["TrackingOptionID"] for option in options[other].values()}
        assert {link.xero_id for link in links} <= own_option_ids, f"{name}'s links point outside its Xero tenant"
        assert not {link.xero_id for link in links} & other_option_ids
        assert {link.procore_id for link in links} <= projects[name], f"{name}'s links point outside its company"
        assert [run.flow for run in store.last_runs()].count("nightly") == 1
        for issue in store.open_issues():
            assert issue.integration, issue
    for name, running in install.sandboxes.items():
        for system in ("xero", "procore"):
            url = running.env[f"TRESTLE_{system.upper()}_API_URL"]
            statuses = httpx.get(f"{url}/_sandbox/stats", timeout=10).json()["statuses"]
            refused = {code: count for code, count in statuses.items() if str(code) in {"401", "403", "429"}}
            assert not refused, f"{name} {system} sandbox refused calls: {refused}"


def _assert_shared_limits(install: Install) -> None:
    limits = {limit["name"]: limit for limit in install.api("POST", "/v2/concurrency_limits/filter", json={})}
    calls = int(install.sandboxes["alpha"].env["TRESTLE_SYNC_XERO_CALLS_PER_MINUTE"])
    for running in install.sandboxes.values():
        name = f"trestle-xero-{running.env['TRESTLE_XERO_TENANT_ID'].lower()}"
        assert name in limits, f"no shared Xero limit for the tenant: {sorted(limits)}"
        limit = limits[name]
        assert limit["limit"] + 60 * limit["slot_decay_per_second"] == pytest.approx(calls, abs=0.01)
    assert sum(name.startswith("trestle-procore-") for name in limits) == 2, "one Procore budget per app and company"
    # And the runs drew on them: Prefect records each slot taken as an event on the limit.
    for name in (name for name in limits if name.startswith("trestle-")):
        query = {
            "filter": {
                "event": {"prefix": ["prefect.concurrency-limit.acquired"]},
                "resource": {"id": [f"prefect.concurrency-limit.{limits[name]['id']}"]},
            },
            "limit": 1,
        }
        deadline, taken = time.monotonic() + 30, 0
        while time.monotonic() < deadline and not taken:
            taken = install.api("POST", "/events/filter", json=query)["total"]
            time.sleep(0 if taken else 1)
        assert taken, f"no slot was taken from {name}"
