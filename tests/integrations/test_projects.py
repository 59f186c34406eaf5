"""Projects (Procore → Xero "Project" tracking options), end to end on the sandboxes."""

from __future__ import annotations

from typing import Any

from tests.integrations.apis import procore_api, tracking_options, xero_api
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.models.store import LinkStore
from trestle.naming import project_option_name
from trestle.sandbox.scenario import SEND_STAGE, build_scenario

SCENARIO = build_scenario("small", 1)


def run(name: str = "projects", **params: Any) -> dict[str, Any]:
    params.setdefault("notify", False)
    return run_flow(get_flow(name), **params)["integrations"][name]


def procore_projects(env: dict[str, str]) -> list[dict[str, Any]]:
    with procore_api(env) as api:
        response = api.get(
            "/rest/v1.1/projects",
            params={
                "company_id": env["TRESTLE_PROCORE_COMPANY_ID"],
                "per_page": 1000,
                "filters[by_status]": "All",
                "view": "normal",
            },
        )
    return response.json()


def test_projects_at_the_stage_become_options_once(trestle_env: dict[str, str]) -> None:
    first = run()
    with xero_api(trestle_env) as xero:
        options = tracking_options(xero, "Project")
    expected = {
        project_option_name(p.number, p.name)
        for p in SCENARIO.projects
        if p.active and p.number and p.stage == SEND_STAGE
    }
    pre_existing = {p.xero_option for p in SCENARIO.projects if p.xero_option}
    assert expected <= set(options), "every active project at the stage is an option"
    assert first["created"] == len(expected - pre_existing)
    not_sent = {
        project_option_name(p.number, p.name)
        for p in SCENARIO.projects
        if p.number and (not p.active or p.stage != SEND_STAGE)
    }
    assert not (not_sent - pre_existing) & set(options), "projects at other stages or inactive are not sent"

    links = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default").links("project")
    by_name = {link.last_payload["Name"]: link for link in links}
    for name in expected:
        assert by_name[name].xero_id == options[name]["TrackingOptionID"]

    second = run()
    assert second["created"] == second["updated"] == 0


def test_project_without_number_is_an_issue(trestle_env: dict[str, str]) -> None:
    summary = run()
    assert "project.no_number" in summary["issue_codes"]
    numberless = [p for p in SCENARIO.projects if p.number is None and p.active and p.stage == SEND_STAGE]
    store = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default")
    labels = {issue.label for issue in store.open_issues(integration="projects") if issue.code == "project.no_number"}
    assert {p.name for p in numberless} <= labels


def test_once_linked_the_stage_no_longer_matters_and_renames_follow(trestle_env: dict[str, str]) -> None:
    run()
    projects = [p for p in procore_projects(trestle_env) if p.get("stage") == SEND_STAGE and p.get("project_number")]
    project = projects[0]
    with procore_api(trestle_env) as api:
        stages = api.get(f"/rest/v1.0/companies/{trestle_env['TRESTLE_PROCORE_COMPANY_ID']}/project_stages").json()
        other = next(stage for stage in stages if stage["name"] == "Post-Construction")
        response = api.patch(
            f"/rest/v1.0/projects/{project['id']}",
            json={
                "company_id": int(trestle_env["TRESTLE_PROCORE_COMPANY_ID"]),
                "project": {"name": project["name"] + " Stage 2", "project_stage_id": other["id"]},
            },
        )
        assert response.status_code == 200, response.text
    summary = run()
    assert summary["updated"] == 1
    with xero_api(trestle_env) as xero:
        options = tracking_options(xero, "Project")
    assert project_option_name(project["project_number"], project["name"] + " Stage 2") in options
    assert project_option_name(project["project_number"], project["name"]) not in options


def test_missing_category_blocks_and_full_category_names_archivable_projects(
    trestle_env: dict[str, str], monkeypatch: Any
) -> None:
    monkeypatch.setenv("TRESTLE_SYNC_PROJECT_CATEGORY", "Jobs")
    blocked = run()
    assert blocked["outcome"] == "blocked" and blocked["created"] == 0
    assert blocked["issue_codes"] == ["projects.category_missing"]
    monkeypatch.delenv("TRESTLE_SYNC_PROJECT_CATEGORY")

    with xero_api(trestle_env) as xero:
        category = next(
            c for c in xero.get("/TrackingCategories").json()["TrackingCategories"] if c["Name"] == "Project"
        )
        active = len(tracking_options(xero, "Project"))
        for index in range(100 - active):
            created = xero.put(
                f"/TrackingCategories/{category['TrackingCategoryID']}/Options", json={"Name": f"Old job {index}"}
            )
            assert created.status_code == 200, created.text
    full = run()
    assert full["created"] == 0
    assert "project.option_limit" in full["issue_codes"]
    store = LinkStore(make_engine(trestle_env["TRESTLE_DATABASE_URL"]), "default")
    limit = [i for i in store.open_issues(integration="projects") if i.code == "project.option_limit"]
    assert limit and "100 active options" in limit[0].message
