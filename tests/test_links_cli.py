"""``trestle link`` / ``unlink`` and one-record runs, against both sandboxes over HTTP and a real
database (SQLite and PostgreSQL), through the command line as a user types it."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.integrations.apis import api_writes, procore_api
from trestle.cli import main
from trestle.db import make_engine
from trestle.models.links import LinkRow
from trestle.models.manual_links import LinkConflict
from trestle.models.store import LinkStore
from trestle.models.tables import Cursor, Link

MULTIPLE = "vendor.multiple_matches"


def trestle(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the ``trestle`` command in this process: exit code, stdout, stderr."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_vendors(capsys: pytest.CaptureFixture[str], *extra: str, email: bool = False) -> dict[str, Any]:
    code, out, err = trestle(capsys, "run", "vendors", "--json", *([] if email else ["--no-email"]), *extra)
    summary: dict[str, Any] = json.loads(out)
    assert code == summary["exit_code"], err
    return summary["integrations"]["vendors"]


def procore_vendors(env: dict[str, str], **filters: str) -> list[dict[str, Any]]:
    """The Procore sandbox's active vendors, read over its API."""
    params = {"company_id": env["TRESTLE_PROCORE_COMPANY_ID"], "per_page": "1000", **filters}
    response = procore_api(env).get("/rest/v1.0/vendors", params=params)
    response.raise_for_status()
    vendors: list[dict[str, Any]] = response.json()
    return vendors


def store_for(env: dict[str, str]) -> LinkStore:
    return LinkStore(make_engine(env["TRESTLE_DATABASE_URL"]), "default")


def vendor_link(store: LinkStore, contact_id: str) -> LinkRow | None:
    return store.find_link("vendor", xero_id=contact_id)


def open_codes(store: LinkStore, contact_id: str) -> set[str]:
    return {issue.code for issue in store.open_issues(integration="vendors") if issue.record_id == contact_id}


def test_manual_link_resolves_the_issue_survives_runs_and_updates_the_vendor(
    trestle_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_vendors(capsys)
    store = store_for(trestle_env)
    issue = next(issue for issue in store.open_issues(integration="vendors") if issue.code == MULTIPLE)
    contact_id, chosen = issue.record_id, str(issue.details["candidates"][1]["id"])

    code, out, err = trestle(capsys, "link", "vendor", "--xero", contact_id, "--procore", chosen, "--by", "alice")
    assert code == 0, err
    assert "1 matching issue(s) on it resolved" in out
    assert MULTIPLE not in open_codes(store, contact_id), "the review list no longer shows it"
    _, review, _ = trestle(capsys, "review")
    assert "linked by hand by alice" in review and issue.label not in review.split("Manual links")[0]

    vendors = run_vendors(capsys, email=True)
    link = vendor_link(store, contact_id)
    assert link is not None and (link.procore_id, link.origin, link.linked_by) == (chosen, "manual", "alice")
    assert link.fingerprint is not None, "the run updated the linked vendor and recorded what it wrote"
    assert MULTIPLE not in open_codes(store, contact_id), "the run did not bring the issue back"
    assert any("linked by hand by alice" in note for note in vendors["notes"]), "the summary names the link"
    (email,) = (Path(trestle_env["TRESTLE_HOME"]) / "outbox").glob("*.html")
    assert "linked by hand by alice" in email.read_text(encoding="utf-8"), "the summary email names the link"
    with_origin = procore_vendors(trestle_env, **{"filters[origin_id]": contact_id})
    assert [str(vendor["id"]) for vendor in with_origin] == [chosen], "the linked vendor was updated from the contact"

    again = run_vendors(capsys)
    assert vendor_link(store, contact_id) == link, "the next run keeps the manual link as it is"
    assert not any("linked by hand" in note for note in again["notes"]), "each link is reported once"


def test_link_refuses_to_tie_a_record_twice_and_checks_both_ids(
    trestle_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_vendors(capsys)
    store = store_for(trestle_env)
    first, second = store.links("vendor")[:2]
    before = sorted(store.links("vendor"), key=lambda link: link.procore_id)

    code, _, err = trestle(capsys, "link", "vendor", "--xero", first.xero_id, "--procore", second.procore_id)
    assert code == 2
    assert f"Xero contact {first.xero_id} is already linked" in err or f"vendor {second.procore_id}" in err
    assert "trestle unlink vendor --xero" in err and "by the matcher" in err

    code, _, err = trestle(capsys, "link", "vendor", "--xero", second.xero_id, "--procore", "999999")
    assert code == 2 and "already linked" in err, "the contact is linked to another vendor"

    issue = next(issue for issue in store.open_issues(integration="vendors") if issue.code == MULTIPLE)
    code, _, err = trestle(capsys, "link", "vendor", "--xero", issue.record_id, "--procore", "999999")
    assert code == 2 and "Procore has no vendor 999999" in err
    free_vendor = str(issue.details["candidates"][0]["id"])
    code, _, err = trestle(
        capsys, "link", "vendor", "--xero", "7d3c9a8e-0000-4000-8000-00000000beef", "--procore", free_vendor
    )
    assert code == 2 and "Xero has no contact" in err
    assert sorted(store.links("vendor"), key=lambda link: link.procore_id) == before, "nothing was linked"


def test_unlink_makes_the_next_run_treat_the_record_as_new(
    trestle_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    run_vendors(capsys)
    store = store_for(trestle_env)
    gone = store.links("vendor")[0]
    vendors_before = len(procore_vendors(trestle_env))

    code, out, err = trestle(capsys, "unlink", "vendor", "--xero", gone.xero_id, "--by", "bob")
    assert code == 0, err
    assert "treats the record as new" in out
    assert vendor_link(store, gone.xero_id) is None
    code, _, err = trestle(capsys, "unlink", "vendor", "--xero", gone.xero_id)
    assert code == 2 and "is not linked" in err
    _, review, _ = trestle(capsys, "review")
    assert "unlinked by hand by bob" in review

    vendors = run_vendors(capsys)
    relinked = vendor_link(store, gone.xero_id)
    assert relinked is not None and relinked.origin == "auto", "matched again from scratch (by origin_id)"
    assert relinked.procore_id == gone.procore_id
    assert vendors["created"] == 0, "the vendor it made before is found, not made twice"
    assert len(procore_vendors(trestle_env)) == vendors_before


def test_one_record_run_touches_only_that_record_and_moves_no_cursor(
    trestle_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from trestle.sandbox.scenario import build_scenario
    from trestle.sandbox.xero.seed import _Ids

    scenario = build_scenario("small", 1)
    new_in_procore = [p for p in scenario.parties if p.in_procore_group and not p.xero_archived and not p.procore_name]
    party = next(p for p in new_in_procore if not p.planted)
    contact_id = _Ids(scenario)("contact", party.key)
    procore_url = trestle_env["TRESTLE_PROCORE_API_URL"]
    writes_before = api_writes(procore_url)

    vendors = run_vendors(capsys, "--record", contact_id)
    assert (vendors["created"], vendors["updated"], vendors["skipped"], vendors["failed"]) == (1, 0, 0, 0)
    assert api_writes(procore_url) - writes_before == 1, "one sync call, for that contact only"
    store = store_for(trestle_env)
    assert [link.xero_id for link in store.links("vendor")] == [contact_id]
    assert store.open_issues(integration="vendors") == [], "no other record was read, so none has an issue"
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Cursor)) == 0, "no cursor moved"
        assert session.scalar(select(func.count()).select_from(Link).where(Link.entity != "vendor")) == 0

    code, out, _ = trestle(capsys, "run", "vendors", "--json", "--no-email", "--record", "not-a-contact")
    assert code == 2
    assert "no record not-a-contact found" in json.loads(out)["integrations"]["vendors"]["error"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migration_0003_marks_existing_links_automatic_and_goes_back_down(backend: str, tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import inspect, text

    from tests.postgres import temporary_database
    from trestle.db import alembic_config, current_revision, upgrade

    with nullcontext(f"sqlite:///{tmp_path / 'trestle.db'}") if backend == "sqlite" else temporary_database() as url:
        engine = make_engine(url)
        upgrade(engine, "0002")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO links (pair, entity, procore_id, xero_id, label, created_at, updated_at) "
                    "VALUES ('default', 'vendor', '7', 'c-1', 'Acme', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        upgrade(engine, "0003")
        store = LinkStore(engine, "default")
        old = store.find_link("vendor", procore_id="7")
        assert old is not None and (old.origin, old.linked_by, old.linked_at) == ("auto", None, None)
        with pytest.raises(LinkConflict):
            store.link_manually("vendor", procore_id="8", xero_id="c-1", label="Acme", by="alice")
        manual = store.link_manually("vendor", procore_id="7", xero_id="c-1", label="Acme", by="alice")
        assert (manual.origin, manual.linked_by) == ("manual", "alice"), "the same pair becomes a manual link"
        assert [event.action for event in store.link_events()] == ["link"]

        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")
        assert current_revision(engine) == "0002"
        assert "link_events" not in inspect(engine).get_table_names()
        assert "origin" not in {column["name"] for column in inspect(engine).get_columns("links")}
        engine.dispose()


def test_manual_project_link_and_a_one_record_projects_run(
    trestle_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.integrations.apis import tracking_options, xero_api
    from trestle.naming import project_option_name

    with procore_api(trestle_env) as api:
        projects = api.get(
            "/rest/v1.1/projects",
            params={"company_id": trestle_env["TRESTLE_PROCORE_COMPANY_ID"], "per_page": 1000, "view": "normal"},
        ).json()
    with xero_api(trestle_env) as xero:
        xero.timeout = httpx.Timeout(60)  # the first read after a reset can be slow on a busy machine
        options = tracking_options(xero, "Project")
    project = next(
        p
        for p in projects
        if p.get("project_number") and project_option_name(p["project_number"], p["name"]) not in options
    )
    option_name, option = next(iter(options.items()))
    project_id, option_id = str(project["id"]), option["TrackingOptionID"]
    xero_url = trestle_env["TRESTLE_XERO_API_URL"]

    code, _, err = trestle(capsys, "link", "cost-code", "--procore", "424242", "--xero", option_id)
    assert code == 2 and "has no standard cost code 424242" in err
    code, _, err = trestle(capsys, "link", "project", "--procore", project_id, "--xero", option_id, "--by", "carol")
    assert code == 0, err

    writes_before = api_writes(xero_url)
    code, out, err = trestle(capsys, "run", "projects", "--json", "--no-email", "--record", project_id)
    projects_run = json.loads(out)["integrations"]["projects"]
    assert (projects_run["created"], projects_run["updated"]) == (0, 1), err
    assert api_writes(xero_url) - writes_before == 1, "one option renamed, nothing else written"
    link = store_for(trestle_env).find_link("project", procore_id=project_id)
    assert link is not None and (link.xero_id, link.origin, link.linked_by) == (option_id, "manual", "carol")
    with xero_api(trestle_env) as xero:
        renamed = tracking_options(xero, "Project")
    wanted = project_option_name(project["project_number"], project["name"])
    assert renamed[wanted]["TrackingOptionID"] == option_id and option_name not in renamed
