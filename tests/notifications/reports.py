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
            issue_codes=["VENDOR_TAX_NUMBER_MISSING"],
        )
    )
    report.issues.append(
        IssueView(
            code="VENDOR_TAX_NUMBER_MISSING",
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
            code="COST_CODE_UNMAPPED",
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
