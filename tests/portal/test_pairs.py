"""Several pairs in one install: each pair's ``[pairs.NAME.portal]`` table decides who sees it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.portal.conftest import StartPortal
from tests.portal.signin import ALLOWED, VIEWER, sign_in
from trestle.db import make_engine
from trestle.models.issues import IssueIn
from trestle.models.store import LinkStore

TOML = """
[pairs.acme]
title = "Acme"
[pairs.acme.portal]
allowed_users = ["alex.accounts@ironbark.sandbox.invalid"]
run_users = ["alex.accounts@ironbark.sandbox.invalid"]

[pairs.beta]
title = "Beta"
[pairs.beta.portal]
allowed_users = ["pat.projects@ironbark.sandbox.invalid", "alex.accounts@ironbark.sandbox.invalid"]
"""


def test_each_pair_admits_only_the_people_its_table_names(start_portal: StartPortal) -> None:
    portal = start_portal({}, TOML)
    engine = make_engine(portal.env["TRESTLE_DATABASE_URL"])
    for pair, label in (("acme", "Acme Scaffolding"), ("beta", "Beta Electrical")):
        LinkStore(engine, pair).reconcile_issues(
            "vendors",
            "vendor",
            {f"id-{pair}": [IssueIn("contact.invalid_region", "bad region")]},
            labels={f"id-{pair}": label},
        )
    with httpx.Client() as pat:
        sign_in(pat, portal.url, VIEWER)
        review = pat.get(portal.url + "/review").text
        assert "Beta Electrical" in review and "Acme Scaffolding" not in review
        assert pat.get(portal.url + "/records/acme/vendor/id-acme").status_code == 404
        assert "Start a run" not in pat.get(portal.url + "/runs").text
    with httpx.Client() as alex:
        sign_in(alex, portal.url, ALLOWED)
        review = alex.get(portal.url + "/review").text
        assert "Beta Electrical" in review and "Acme Scaffolding" in review
        runs = alex.get(portal.url + "/runs").text
        assert "Start a run · acme" in runs and "Start a run · beta" not in runs, "Alex runs acme only"


def test_a_pair_whose_company_procore_does_not_list_for_the_person_stays_closed(
    start_portal: StartPortal, sandboxes: Any
) -> None:
    """Being named is not enough: the pair's company must be among the person's ``/companies``."""
    other_company = int(sandboxes.env["TRESTLE_PROCORE_COMPANY_ID"]) + 1
    portal = start_portal(
        {},
        TOML
        + f"""
[pairs.elsewhere]
title = "Elsewhere"
[pairs.elsewhere.procore]
company_id = {other_company}
[pairs.elsewhere.portal]
allowed_users = ["alex.accounts@ironbark.sandbox.invalid"]
run_users = ["alex.accounts@ironbark.sandbox.invalid"]
""",
    )
    with httpx.Client() as alex:
        sign_in(alex, portal.url, ALLOWED)
        runs = alex.get(portal.url + "/runs").text
        assert "Start a run · acme" in runs and "Start a run · elsewhere" not in runs
        assert "Elsewhere" not in alex.get(portal.url + "/review").text
