"""Every mapped field of every Procore ↔ Xero document integration reaches the other system.

One nightly run on the small dataset creates the records; each integration's declared ``mapping``
is checked row by row on every linked record, read back over the target sandbox's API. Then the
sources change as their users would change them (documented write endpoints only), a second
nightly run sends the changes, and every row is checked again. Vendors have their own module
(``test_mappings.py``). Runs on SQLite and PostgreSQL (the ``trestle_env`` fixture).

Not changed between the runs, because no documented endpoint can: standard cost codes (the
Procore API only reads them) and approved subcontractor invoices (locked once approved). Xero
payments cannot be edited either, so payments are checked as created, the second one on a bill
included (``payment_number`` 2).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tests.integrations.mapping_checks_procore import (
    DIRECT_COST_CHECKS,
    PAYMENT_CHECKS,
    direct_cost_pairs,
    payment_pairs,
)
from tests.integrations.mapping_helpers import (
    Check,
    World,
    cents,
    differs,
    iso_date,
    mapping_problems,
    tracking_of,
    xero_date,
)
from trestle.cli import run_flow
from trestle.flows import get_flow
from trestle.integrations.commitments import CommitmentsIntegration
from trestle.integrations.cost_codes import CostCodesIntegration
from trestle.integrations.direct_invoices import DirectInvoicesIntegration
from trestle.integrations.payments import PaymentsIntegration
from trestle.integrations.progress_claims import ProgressClaimsIntegration
from trestle.integrations.projects import ProjectsIntegration
from trestle.tasks.declaration import FieldMap

Pairs = Iterator[tuple[str, Any, Any]]
KINDS = ("work_order", "purchase_order")


def _option_name(*parts: Any) -> str:
    return " ".join(str(part).strip() for part in parts if part and str(part).strip())[:100]


# --------------------------------------------------------------------------- cost codes
def cost_code_pairs(world: World) -> Pairs:
    company = world.env["TRESTLE_PROCORE_COMPANY_ID"]
    codes: dict[str, dict[str, Any]] = {}
    for code_list in world.procore.get("/rest/v1.0/standard_cost_code_lists", params={"company_id": company}).json():
        params = {"company_id": company, "standard_cost_code_list_id": code_list["id"], "view": "extended"}
        for code in world.procore.get("/rest/v1.0/standard_cost_codes", params={**params, "per_page": 1000}).json():
            codes[str(code["id"])] = code
    names = world.option_names()
    for link in world.store.links("cost_code"):
        yield link.label or link.procore_id, codes[link.procore_id], {"Name": names[link.xero_id]}


COST_CODE_CHECKS: dict[str, Check] = {
    "Name": lambda code, option, _: differs(
        "Name", option["Name"], _option_name(code.get("full_code") or code.get("code"), code.get("name"))
    ),
}


# --------------------------------------------------------------------------- projects
def procore_projects(world: World) -> dict[str, dict[str, Any]]:
    params = {"company_id": world.env["TRESTLE_PROCORE_COMPANY_ID"], "per_page": 1000, "view": "normal"}
    return {str(p["id"]): p for p in world.procore.get("/rest/v1.1/projects", params=params).json()}


def project_pairs(world: World) -> Pairs:
    projects, names = procore_projects(world), world.option_names()
    for link in world.store.links("project"):
        yield link.label or link.procore_id, projects[link.procore_id], {"Name": names[link.xero_id]}


PROJECT_CHECKS: dict[str, Check] = {
    "Name": lambda project, option, _: differs(
        "Name", option["Name"], _option_name(project["project_number"], project["name"])
    ),
}


# --------------------------------------------------------------------------- commitments
def procore_commitment(world: World, located: tuple[str, str], commitment_id: str) -> dict[str, Any]:
    """A commitment with its lines, shown through the endpoint of its kind, with ``kind``."""
    kind, project_id = located
    shown = world.procore.get(f"/rest/v1.0/{kind}_contracts/{commitment_id}", params={"project_id": project_id})
    shown.raise_for_status()
    route = f"/rest/v1.0/projects/{project_id}/commitment_change_orders"
    params = {"filters[contract_id]": commitment_id, "filters[status]": "approved", "sort": "id"}
    listed = world.procore.get(route, params=params).json()
    approved = [world.procore.get(f"{route}/{co['id']}").json() for co in listed]
    return {**shown.json(), "kind": kind, "project_id": int(project_id), "change_orders": approved}


def commitment_index(world: World) -> dict[str, tuple[str, str]]:
    """Commitment id → (kind, project id), over the linked projects, listed per kind."""
    found = {}
    for project_id in world.project_option:
        for kind in KINDS:
            params = {"project_id": project_id, "per_page": 1000}
            listed = world.procore.get(f"/rest/v1.0/{kind}_contracts", params=params)
            listed.raise_for_status()
            found |= {str(item["id"]): (kind, project_id) for item in listed.json()}
    return found


def commitment_pairs(world: World) -> Pairs:
    projects = commitment_index(world)
    for link in world.store.links("commitment"):
        commitment = procore_commitment(world, projects[link.procore_id], link.procore_id)
        order = world.xero.get(f"/PurchaseOrders/{link.xero_id}").json()["PurchaseOrders"][0]
        yield commitment.get("number") or link.procore_id, commitment, order


def _sov(commitment: dict[str, Any]) -> list[dict[str, Any]]:
    """The lines the order must carry: the schedule of values, then each approved change order's lines."""
    return _ordered(commitment["line_items"]) + [
        line for change_order in commitment["change_orders"] for line in _ordered(change_order["line_items"])
    ]


def _ordered(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(lines, key=lambda line: (line.get("position") or 0, line["id"]))


def _po_descriptions(commitment: dict[str, Any], order: dict[str, Any], _: World) -> str | None:
    want = [line["description"] for line in _ordered(commitment["line_items"])] + [
        " - ".join(part for part in (co["number"], co["title"], line["description"]) if part)
        for co in commitment["change_orders"]
        for line in _ordered(co["line_items"])
    ]
    return differs("line descriptions", [line.get("Description") for line in order["LineItems"]], want)


def _line_total(line: dict[str, Any]) -> Decimal:
    return cents(Decimal(str(line.get("Quantity") or 0)) * Decimal(str(line.get("UnitAmount") or 0)))


def _po_lines(commitment: dict[str, Any], order: dict[str, Any], _: World) -> str | None:
    want = [cents(line["amount"]) for line in _sov(commitment)]
    got = [_line_total(line) for line in order["LineItems"]]
    return differs("line amounts (Quantity × UnitAmount)", got, want)


def _line_tracking(world: World, project_id: Any, code_ids: list[Any], lines: list[dict[str, Any]]) -> str | None:
    want = [{"Project": world.project_option[str(project_id)], "Cost Code": world.code_option[c]} for c in code_ids]
    return differs("line tracking", [tracking_of(line) for line in lines], want)


def _code_id(line: dict[str, Any]) -> Any:
    return line.get("cost_code_id") or (line.get("cost_code") or {}).get("id")


COMMITMENT_CHECKS: dict[str, Check] = {
    "Contact": lambda c, o, w: differs(
        "ContactID", o["Contact"]["ContactID"], w.contact_for_vendor[str(c["vendor"]["id"])]
    ),
    "Date": lambda c, o, _: differs("Date", xero_date(o.get("Date")), iso_date(c.get("contract_date"))),
    "Reference": lambda c, o, _: differs(
        "Reference", o.get("Reference"), " - ".join(p.strip() for p in (c.get("number"), c.get("title")) if p)
    ),
    "DeliveryDate": lambda c, o, _: differs(
        "DeliveryDate",
        xero_date(o.get("DeliveryDate")),
        iso_date(c.get("delivery_date") or c.get("contract_estimated_completion_date")),
    ),
    "LineAmountTypes": lambda _c, o, _: differs("LineAmountTypes", o["LineAmountTypes"], "Exclusive"),
    "LineItems": _po_lines,
    "LineItems[].Description": _po_descriptions,
    "LineItems[].AccountCode": lambda c, o, _: differs(
        "account codes", [line.get("AccountCode") for line in o["LineItems"]], ["320"] * len(_sov(c))
    ),
    "LineItems[].TaxType": lambda c, o, _: differs(
        "tax types", [line.get("TaxType") for line in o["LineItems"]], ["INPUT"] * len(_sov(c))
    ),
    "LineItems[].Tracking": lambda c, o, w: _line_tracking(
        w, c["project_id"], [_code_id(line) for line in _sov(c)], o["LineItems"]
    ),
}


# --------------------------------------------------------------------------- progress claims
def claim_pairs(world: World) -> Pairs:
    claims = {}
    for project_id in world.project_option:
        params = {"project_id": project_id, "per_page": 1000, "view": "items"}
        claims |= {str(c["id"]): c for c in world.procore.get("/rest/v1.1/requisitions", params=params).json()}
    for link in world.store.links("progress_claim"):
        claim = claims[link.procore_id]
        bills = world.xero.get(f"/Invoices/{link.xero_id}")
        if bills.status_code == 200:
            document = bills.json()["Invoices"][0]
        else:
            document = world.xero.get(f"/CreditNotes/{link.xero_id}").json()["CreditNotes"][0]
        yield claim.get("invoice_number") or link.procore_id, claim, document


def _is_bill(document: dict[str, Any]) -> bool:
    return document["Type"] == "ACCPAY"


def _claim_number(claim: dict[str, Any], document: dict[str, Any]) -> str | None:
    got = document.get("InvoiceNumber") if _is_bill(document) else document.get("CreditNoteNumber")
    if not (claim.get("invoice_number") or "").strip():
        return None if got and got.endswith(f"-{claim['number']}") else f"{got!r} is not '<commitment>-<number>'"
    return differs("number", got, claim["invoice_number"].strip())


def _claim_date(claim: dict[str, Any]) -> date | None:
    return iso_date(claim.get("billing_date") or claim.get("requisition_end"))


def _due_date(claim: dict[str, Any], document: dict[str, Any], world: World) -> str | None:
    if not _is_bill(document):
        return None  # a credit note has no due date
    term = world.bill_terms.get(document["Contact"]["ContactID"])
    billed = _claim_date(claim)
    assert billed is not None
    if term and term.get("Type") == "DAYSAFTERBILLDATE" and term.get("Day") is not None:
        expected = billed + timedelta(days=term["Day"])
    elif term:
        return None  # the month-based terms have their own unit test (test_progress_claims)
    else:
        expected = billed + timedelta(days=30)
    return differs("DueDate", xero_date(document.get("DueDate")), expected)


def _claim_lines(claim: dict[str, Any], document: dict[str, Any], world: World) -> str | None:
    sign = 1 if _is_bill(document) else -1
    want: dict[str, Decimal] = defaultdict(Decimal)
    for item in claim["items"]:
        amount = cents(item["net_amount"])
        if amount:
            want[world.code_option[item["cost_code_id"]]] += sign * amount  # net of retainage
    got: dict[str, Decimal] = defaultdict(Decimal)
    for line in document["LineItems"]:
        got[tracking_of(line).get("Cost Code", line.get("Description", ""))] += _line_total(line)
    return differs("amount per cost code", dict(got), {k: v for k, v in want.items() if v})


CLAIM_CHECKS: dict[str, Check] = {
    "Contact": lambda c, d, w: differs(
        "ContactID", d["Contact"]["ContactID"], w.contact_for_vendor[str(c["vendor_id"])]
    ),
    "InvoiceNumber": lambda c, d, _: _claim_number(c, d),
    "Date": lambda c, d, _: differs("Date", xero_date(d.get("Date")), _claim_date(c)),
    "DueDate": _due_date,
    "LineItems": _claim_lines,
    "LineItems[].AccountCode": lambda _c, d, _: differs(
        "account codes", {line.get("AccountCode") for line in d["LineItems"]}, {"320"}
    ),
    "LineItems[].TaxType": lambda _c, d, _: differs(
        "tax types", {line.get("TaxType") for line in d["LineItems"]}, {"INPUT"}
    ),
    "LineItems[].Tracking": lambda c, d, w: differs(
        "project options",
        {tracking_of(line).get("Project") for line in d["LineItems"]},
        {w.project_option[str(c["project_id"])]},
    ),
    "Url": lambda c, d, _: (
        None
        if not _is_bill(d) or str(d.get("Url") or "").endswith(f"/project/commitments/requisitions/{c['id']}")
        else f"Url is {d.get('Url')!r}, not the Procore invoice {c['id']}"
    ),
}


TABLES = (
    (CostCodesIntegration, COST_CODE_CHECKS, cost_code_pairs),
    (ProjectsIntegration, PROJECT_CHECKS, project_pairs),
    (CommitmentsIntegration, COMMITMENT_CHECKS, commitment_pairs),
    (ProgressClaimsIntegration, CLAIM_CHECKS, claim_pairs),
    (DirectInvoicesIntegration, DIRECT_COST_CHECKS, direct_cost_pairs),
    (PaymentsIntegration, PAYMENT_CHECKS, payment_pairs),
)


def nightly() -> dict[str, Any]:
    return run_flow(get_flow("nightly"), notify=False)["integrations"]


def all_problems(env: dict[str, str], *, expect_payments: bool) -> list[str]:
    world = World.read(env)
    try:
        problems = []
        for integration, checks, pairs in TABLES:
            if integration is PaymentsIntegration and not expect_payments:
                continue
            problems += mapping_problems(integration, checks, pairs(world), world)
        return problems
    finally:
        world.close()


def change_sources(env: dict[str, str]) -> dict[str, str]:
    """Change one record of each integration whose source has a documented write; say which."""
    world = World.read(env)
    changed: dict[str, str] = {}
    try:
        company = int(env["TRESTLE_PROCORE_COMPANY_ID"])
        project_link = world.store.links("project")[0]
        project = procore_projects(world)[project_link.procore_id]
        renamed = world.procore.patch(
            f"/rest/v1.0/projects/{project['id']}",
            json={"company_id": company, "project": {"name": project["name"] + " Stage 2"}},
        )
        assert renamed.status_code == 200, renamed.text
        changed["projects"] = project_link.procore_id

        index = commitment_index(world)
        commitment_link = world.store.links("commitment")[0]
        commitment = procore_commitment(world, index[commitment_link.procore_id], commitment_link.procore_id)
        kind, project_id = commitment["kind"], commitment["project_id"]
        # Procore locks an approved commitment's schedule of values (changes go on change orders): the header.
        header = {"title": "Revised package", "contract_date": "2026-09-01"}
        updated = world.procore.patch(
            f"/rest/v1.0/{kind}_contracts/{commitment['id']}",
            json={"project_id": project_id, f"{kind}_contract": header},
        )
        assert updated.status_code == 200, updated.text
        changed["commitments"] = commitment_link.procore_id

        # A direct bill re-referenced and re-priced by the accountant.
        direct_link = world.store.links("direct_cost")[0]
        bill = world.xero.get(f"/Invoices/{direct_link.xero_id}").json()["Invoices"][0]
        lines = [
            {
                key: line[key]
                for key in ("LineItemID", "Description", "Quantity", "AccountCode", "TaxType", "Tracking")
                if key in line
            }
            | {"UnitAmount": float(Decimal(str(line["UnitAmount"])) + Decimal("10.01"))}
            for line in bill["LineItems"]
        ]
        edited = world.xero.post(
            "/Invoices",
            json={"Invoices": [{"InvoiceID": bill["InvoiceID"], "Reference": "Re-priced", "LineItems": lines}]},
        )
        assert edited.status_code == 200, edited.text
        changed["direct_invoices"] = direct_link.xero_id

        # The accountant approves a claim's bill and pays it in two parts (payments are created, never edited).
        claim_bill = next(
            link.xero_id
            for link in world.store.links("progress_claim")
            if world.xero.get(f"/Invoices/{link.xero_id}").status_code == 200
        )
        approved = world.xero.post("/Invoices", json={"Invoices": [{"InvoiceID": claim_bill, "Status": "AUTHORISED"}]})
        assert approved.status_code == 200, approved.text
        total = Decimal(str(approved.json()["Invoices"][0]["Total"]))
        first = cents(total * Decimal("0.37"))
        # The second part has no reference, so its notes are the plain "Paid in Xero".
        parts = (("2026-10-05", first, {"Reference": "EFT 1"}), ("2026-10-20", total - first, {}))
        for when, amount, reference in parts:
            payment = {
                "Invoice": {"InvoiceID": claim_bill},
                "Account": {"Code": "090"},
                "Date": when,
                "Amount": float(amount),
            } | reference
            paid = world.xero.put("/Payments", json={"Payments": [payment]})
            assert paid.status_code == 200, paid.text
        changed["payments"] = claim_bill
    finally:
        world.close()
    return changed


def test_every_mapped_field_reaches_the_target_on_create_and_update(trestle_env: dict[str, str]) -> None:
    first = nightly()
    for name in ("cost_codes", "projects", "commitments", "progress_claims", "direct_invoices"):
        assert first[name]["created"] > 0, f"{name} created nothing on the small dataset"
    created = all_problems(trestle_env, expect_payments=False)
    assert created == [], "\n".join(created)

    changed = change_sources(trestle_env)
    second = nightly()
    for name in ("projects", "commitments", "direct_invoices"):
        assert second[name]["updated"] >= 1, f"{name}: the change to {changed[name]} was not sent"
    assert second["payments"]["created"] == 2
    updated = all_problems(trestle_env, expect_payments=True)
    assert updated == [], "\n".join(updated)


def test_a_mapped_field_without_a_check_or_a_check_without_a_field_fails() -> None:
    declared = type("Declared", (), {"name": "demo", "mapping": (FieldMap("Name", "name"), FieldMap("Code", "code"))})
    checks: dict[str, Check] = {"Name": lambda *_: None, "Colour": lambda *_: None}
    problems = mapping_problems(declared, checks, [("one", {}, {})], None)  # type: ignore[arg-type]
    assert problems == [
        "demo: no check for mapped field 'Code'",
        "demo: a check for 'Colour', which is not a mapped field",
    ]
    assert mapping_problems(declared, {}, [], None)[-1] == "demo: no linked records to check"  # type: ignore[arg-type]
