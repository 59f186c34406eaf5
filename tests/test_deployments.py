"""Deployments: prefect.yaml in step with the catalog, served deployments, the late-run guard."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from prefect.client.orchestration import get_client
from prefect.states import Scheduled

from trestle.cli import deployments_yaml
from trestle.deployments.catalog import deployments
from trestle.deployments.serve import runner_deployments
from trestle.flows import flow_names, get_flow
from trestle.flows.guard import newer_due_runs

ROOT = Path(__file__).resolve().parents[1]


def test_prefect_yaml_is_generated_from_the_catalog() -> None:
    assert (ROOT / "prefect.yaml").read_text() == deployments_yaml("Australia/Sydney"), (
        "prefect.yaml is stale: run `trestle deployments yaml > prefect.yaml`"
    )
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    by_name = {item["name"]: item for item in config["deployments"]}
    assert by_name["nightly"]["schedules"] == [{"cron": "0 2 * * *", "timezone": "Australia/Sydney", "active": True}]
    assert by_name["payments-hourly"]["schedules"][0]["cron"] == "15 * * * *"
    assert by_name["weekly-full-refresh"]["parameters"]["full_refresh"] is True
    assert by_name["single-project"]["schedules"] == []
    assert all(item["work_pool"]["name"] == "trestle" for item in config["deployments"])
    assert config["pull"][0]["prefect.deployments.steps.set_working_directory"]
    for item in config["deployments"]:  # every entrypoint resolves to a flow
        path, attribute = item["entrypoint"].split(":")
        module = path.removesuffix(".py").replace("/", ".")
        flow = getattr(__import__(module, fromlist=[attribute]), attribute)
        assert set(item["parameters"]) <= set(flow.parameters.properties)


def test_served_deployments_carry_schedules_in_the_time_zone() -> None:
    catalog = deployments()
    served = {deployment.name: deployment for deployment in runner_deployments("Pacific/Auckland")}
    assert set(served) == {spec.name for spec in catalog}
    assert {spec.flow for spec in catalog} == set(flow_names()), "every flow has a deployment"
    nightly = served["nightly"].schedules[0].schedule
    assert nightly.cron == "0 2 * * *" and nightly.timezone == "Pacific/Auckland"
    assert served["single-project"].schedules in (None, [])
    assert "project_number" in get_flow("single_project").parameters.required
    for spec in catalog:  # a served run loads its flow from the entrypoint: it must be the right one
        module, attribute = served[spec.name].entrypoint.rsplit(".", 1)
        loaded = getattr(importlib.import_module(module), attribute)
        assert loaded is get_flow(spec.flow), f"{spec.name} would run {module}.{attribute}"


def test_late_runs_are_superseded_by_the_newest_due_one(prefect_harness: None) -> None:
    now = datetime.now(UTC)
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("late-run-guard-test")
        deployment_id = client.create_deployment(flow_id=flow_id, name="nightly-guard-test")
        times = [
            now - timedelta(hours=50),
            now - timedelta(hours=26),
            now - timedelta(hours=2),
            now + timedelta(hours=22),
        ]
        runs = [
            client.create_flow_run_from_deployment(deployment_id, state=Scheduled(scheduled_time=when))
            for when in times
        ]
        oldest = newer_due_runs(client, deployment_id, runs[0].id, times[0], now)
        newest_due = newer_due_runs(client, deployment_id, runs[2].id, times[2], now)
    assert {run.id for run in oldest} == {runs[1].id, runs[2].id}, "older late runs see newer ones already due"
    assert newest_due == [], "the newest due run is not superseded (the future one does not count)"
