"""Realistic run reports, shaped the way the engine fills them, for the notification tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from trestle.models.report import (
    FieldChange,
    IntegrationReport,
    IssueView,
    RecordOutcome,
    RunReport,
    SystemUsage,
)

PROCORE = "https://app.procore.com"
XERO = "https://go.xero.com"
STARTED = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)
HOSTILE_LABEL = '<script>alert("x")</script> & Sons'


def _vendors(dry_run: bool) -> IntegrationReport:
    report = IntegrationReport(
        integration="vendors",
        title="Vendors",
        direction="Procore → Xero",
        dry_run=dry_run,
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=42),
        outcome="issues",
        notes=["3 vendors are inactive in Procore and were left alone"],
    )
    report.add(
        RecordOutcome(
            action="created",
            entity="vendor",
            label="Acme Concrete Pty Ltd",
            source_system="procore",
            source_id="101",
            target_system="xero",
            target_id="c0ffee00-0000-4000-8000-000000000001",
            source_url=f"{PROCORE}/562949953421312/company/vendors/101",
            target_url=f"{XERO}/Contacts/View/c0ffee00-0000-4000-8000-000000000001",
        )
    )
    report.add(
        RecordOutcome(
            action="updated",
            entity="vendor",
            label=HOSTILE_LABEL,
            source_system="procore",
            source_id="102",
            target_system="xero",
            target_id="c0ffee00-0000-4000-8000-000000000002",
            source_url=f"{PROCORE}/562949953421312/company/vendors/102",
            target_url=f"{XERO}/Contacts/View/c0ffee00-0000-4000-8000-000000000002",
            changes=[
                FieldChange(field="EmailAddress", before="old@example.com", after="accounts@example.com"),
                FieldChange(field="TaxNumber", before=None, after="53 004 085 616"),
            ],
        )
    )
    for number in range(5):
        report.add(
            RecordOutcome(
                action="unchanged",
                entity="vendor",
                label=f"Steady Supplier {number}",
                source_system="procore",
                source_id=str(200 + number),
                target_system="xero",
            )
        )
    report.add(
        RecordOutcome(
            action="skipped",
            entity="vendor",
            label="No-ABN Plumbing",
            source_system="procore",
            source_id="103",
            target_system="xero",
            source_url=f"{PROCORE}/562949953421312/company/vendors/103",
            reason="missing ABN (tax number)",
            issue_codes=["vendor.tax_number_missing"],
        )
    )
    report.issues.append(
        IssueView(
            code="vendor.tax_number_missing",
            message="The vendor has no ABN, so Xero would reject bills from it.",
            entity="vendor",
            record_id="103",
            label="No-ABN Plumbing",
            url=f"{PROCORE}/562949953421312/company/vendors/103",
            fix="Add the ABN on the vendor's Company tab in Procore; the next run picks it up.",
            first_seen=STARTED - timedelta(days=2),
            last_seen=STARTED,
        )
    )
    report.api_usage = {
        "procore": SystemUsage(calls=4, by_route={"GET /rest/v1.0/vendors": 4}, remaining={"hour": 3596}),
        "xero": SystemUsage(calls=6, remaining={"day": 4994, "minute": 54}),
    }
    return report


def _commitments(dry_run: bool) -> IntegrationReport:
    report = IntegrationReport(
        integration="commitments",
        title="Commitments",
        direction="Procore → Xero purchase orders",
        dry_run=dry_run,
        started_at=STARTED + timedelta(seconds=42),
        finished_at=STARTED + timedelta(seconds=130),
        outcome="issues",
    )
    report.add(
        RecordOutcome(
            action="created",
            entity="purchase_order",
            label="SC-0042 Formwork, Harbour View",
            source_system="procore",
            source_id="9001",
            target_system="xero",
            target_id="facade00-0000-4000-8000-000000000042",
            source_url=f"{PROCORE}/3001/project/commitments/work_order_contracts/9001",
            target_url=f"{XERO}/Accounts/Payable/PurchaseOrders/View/facade00-0000-4000-8000-000000000042",
        )
    )
    report.add(
        RecordOutcome(
            action="updated",
            entity="purchase_order",
            label="PO-0007 Rebar supply",
            source_system="procore",
            source_id="9002",
            target_system="xero",
            target_id="facade00-0000-4000-8000-000000000007",
            source_url=f"{PROCORE}/3001/project/commitments/purchase_order_contracts/9002",
            target_url=f"{XERO}/Accounts/Payable/PurchaseOrders/View/facade00-0000-4000-8000-000000000007",
            changes=[FieldChange(field="Total", before=Decimal("12500.00"), after=Decimal("13750.50"))],
        )
    )
    report.add(
        RecordOutcome(
            action="failed",
            entity="purchase_order",
            label="SC-0043 Scaffolding",
            source_system="procore",
            source_id="9003",
            target_system="xero",
            source_url=f"{PROCORE}/3001/project/commitments/work_order_contracts/9003",
            reason="Xero rejected the purchase order: Account code '999' is not a valid code",
        )
    )
    report.issues.append(
        IssueView(
            code="commitment.invalid_cost_code",
            message="Cost code 03-300 has no Xero tracking option.",
            entity="purchase_order",
            record_id="9003",
            label="SC-0043 Scaffolding",
            url=f"{PROCORE}/3001/project/commitments/work_order_contracts/9003",
            first_seen=STARTED,
            last_seen=STARTED,
        )
    )
    report.api_usage = {"procore": SystemUsage(calls=7), "xero": SystemUsage(calls=9)}
    return report


def nightly_report(dry_run: bool = False) -> RunReport:
    """A nightly run of two integrations with writes, a skip, a failure and two review issues."""
    return RunReport(
        run_id="3f2b9c1e-5d2a-4c8e-9a51-0f6c2d7e8b10",
        flow="nightly",
        pair="acme",
        dry_run=dry_run,
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=130),
        integrations=[_vendors(dry_run), _commitments(dry_run)],
        procore_web_url=PROCORE,
        xero_web_url=XERO,
    )


def failed_report() -> RunReport:
    """A single-integration run that stopped on an error before writing anything."""
    integration = IntegrationReport(
        integration="payments",
        title="Payments",
        direction="Xero → Procore",
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=3),
        outcome="failed",
        error="Xero refused the connection: the tenant is not connected to this app (403)",
    )
    return RunReport(
        run_id="run-failed-1", flow="payments", pair="acme", started_at=STARTED, integrations=[integration]
    )


def clean_report() -> RunReport:
    """A run where nothing needed doing and nothing is open for review."""
    integration = IntegrationReport(
        integration="projects", title="Projects", direction="Procore → Xero", started_at=STARTED
    )
    integration.counts["unchanged"] = 12
    return RunReport(run_id="run-clean-1", flow="projects", pair="acme", started_at=STARTED, integrations=[integration])


def many_records_report(count: int) -> RunReport:
    """A run that created ``count`` vendors, to check that long tables are capped."""
    integration = IntegrationReport(
        integration="vendors", title="Vendors", direction="Procore → Xero", started_at=STARTED
    )
    for number in range(count):
        integration.add(
            RecordOutcome(
                action="created",
                entity="vendor",
                label=f"Vendor {number:04d}",
                source_system="procore",
                source_id=str(number),
                target_system="xero",
                source_url=f"{PROCORE}/1/company/vendors/{number}",
            )
        )
    return RunReport(run_id="run-many-1", flow="vendors", pair="acme", started_at=STARTED, integrations=[integration])


# The medium demo's first night (dataset medium, seed 1), as counted on a real run: integration,
# title, entity, created, updated, unchanged, and the review issues by code.
MEDIUM_NIGHT = (
    ("vendors", "Vendors", "vendor", 70, 88, 0, {"contact.invalid_region": 5, "contact.invalid_country": 4,
     "vendor.inactive": 3, "vendor.multiple_matches": 2}),
    ("projects", "Projects", "project", 18, 0, 4, {"project.no_number": 3}),
    ("cost_codes", "Cost codes", "cost_code", 16, 0, 12, {}),
    ("commitments", "Commitments", "commitment", 148, 0, 0, {"commitment.not_approved": 38,
     "commitment.vendor_not_integrated": 16, "commitment.no_lines": 9, "commitment.invalid_cost_code": 9}),
    ("progress_claims", "Progress claims", "progress_claim", 264, 0, 0, {"progress_claim.vendor_not_linked": 31,
     "progress_claim.cost_code_not_linked": 19}),
    ("payments", "Payments", "payment", 0, 0, 0, {}),
    ("direct_invoices", "Direct invoices", "direct_cost", 69, 0, 0, {"direct_cost.no_cost_code": 4,
     "direct_cost.vendor_not_linked": 1}),
)  # fmt: skip


def medium_night_report() -> RunReport:
    """A report the size and shape of the medium demo's first night: 585 created, 88 updated,
    144 review issues of which 38 are commitments not approved yet, with long names and links."""
    integrations = []
    for name, title, entity, created, updated, unchanged, issues in MEDIUM_NIGHT:
        item = IntegrationReport(
            integration=name,
            title=title,
            direction="Procore → Xero",
            started_at=STARTED,
            finished_at=STARTED + timedelta(seconds=9),
            outcome="issues" if issues else "success",
        )
        for number in range(created + updated):
            changes = []
            if number >= created:
                changes = [
                    FieldChange(field="origin_id", before=None, after=f"0e5c{number:04d}-1d1f-563d-95dd-9967a8ed5334"),
                    FieldChange(field="name", before=f"Old Name {number} Services", after=f"New Name {number}"),
                    FieldChange(field="business_id", before=None, after="53 004 085 616"),
                ]
            item.add(
                RecordOutcome(
                    action="created" if number < created else "updated",
                    entity=entity,
                    label=f"PO-{number:03d} Structural Steel and Metal Deck package (2025-107 Summit Library)",
                    source_system="procore",
                    source_id=f"{name}-{number}",
                    target_system="xero",
                    target_id=f"c0ffee00-0000-4000-8000-{number:012d}",
                    source_url=f"{PROCORE}/562949953421602/project/commitments/purchase_order_contracts/{number:012d}",
                    target_url=f"{XERO}/Accounts/Payable/PurchaseOrders/View/c0ffee00-0000-4000-8000-{number:012d}",
                    changes=changes,
                )
            )
        for _ in range(unchanged):
            item.add(RecordOutcome(action="unchanged", entity=entity, label="-", source_system="procore",
                                   source_id="-", target_system="xero"))  # fmt: skip
        for code, count in issues.items():
            for number in range(count):
                record_id = f"{code}-{number}"
                item.add(
                    RecordOutcome(
                        action="skipped",
                        entity=entity,
                        label=f"Castillo Riverside Painting & Sons Contracting {number}",
                        source_system="procore",
                        source_id=record_id,
                        target_system="xero",
                        reason="has open review issues",
                        issue_codes=[code],
                    )
                )
                item.issues.append(
                    IssueView(
                        code=code,
                        message=f"Region 'NSW-9' is not a state or region of Australia (expected one of ACT, NSW, "
                        f"NT, QLD, SA, TAS, VIC, WA); record {record_id}.",
                        entity=entity,
                        record_id=record_id,
                        label=f"Castillo Riverside Painting & Sons Contracting {number}",
                        url=f"{XERO}/Contacts/View/cb6cffcd-8c68-5b0c-b58a-f86ea915ed5f?record={record_id}",
                        first_seen=STARTED,
                        last_seen=STARTED,
                    )
                )
        item.api_usage = {
            "procore": SystemUsage(calls=40, remaining={"limit": 3600, "remaining": 3420, "reset": 1741060800}),
            "xero": SystemUsage(calls=60, remaining={"day": 4870, "minute": 54}),
        }
        integrations.append(item)
    return RunReport(
        run_id="medium-night-1",
        flow="nightly",
        pair="default",
        started_at=STARTED,
        finished_at=STARTED + timedelta(minutes=5),
        integrations=integrations,
        procore_web_url=PROCORE,
        xero_web_url=XERO,
        timezone="Australia/Sydney",
    )
