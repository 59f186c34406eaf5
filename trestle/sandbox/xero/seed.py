"""Turn a :class:`~trestle.sandbox.scenario.Scenario` into the simulated Xero organisation.

Everything is deterministic for a ``(dataset, seed)``: IDs are UUIDv5 values derived from the
scenario's keys, and ``UpdatedDateUTC`` stamps count back from ``scenario.now`` one minute per
record, so seeded data is always older than anything written through the API.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from trestle.naming import cost_code_option_name
from trestle.sandbox.attachments_seed import seed_bill_attachments
from trestle.sandbox.scenario import Scenario
from trestle.sandbox.xero.documents import INVOICE, recompute_balances
from trestle.sandbox.xero.lines import build_line, document_totals
from trestle.sandbox.xero.state import Problems, Record, XeroState
from trestle.sandbox.xero.wire import money

BANK_ACCOUNT_CODE = "090"
# (code, name, type, tax type, extra fields)
CHART_OF_ACCOUNTS: list[tuple[str, str, str, str, dict[str, Any]]] = [
    (
        "090",
        "Business Bank Account",
        "BANK",
        "BASEXCLUDED",
        {"BankAccountNumber": "062000 12345678", "BankAccountType": "BANK"},
    ),
    (
        "091",
        "Business Savings Account",
        "BANK",
        "BASEXCLUDED",
        {"BankAccountNumber": "062000 87654321", "BankAccountType": "BANK"},
    ),
    ("200", "Sales", "REVENUE", "OUTPUT", {}),
    ("260", "Other Revenue", "REVENUE", "OUTPUT", {}),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "INPUT", {}),
    ("320", "Subcontractors", "DIRECTCOSTS", "INPUT", {}),
    ("325", "Materials", "DIRECTCOSTS", "INPUT", {}),
    ("400", "Advertising", "OVERHEADS", "INPUT", {}),
    ("404", "Bank Fees", "OVERHEADS", "INPUTTAXED", {}),
    ("408", "Cleaning", "OVERHEADS", "INPUT", {}),
    ("412", "Consulting & Accounting", "OVERHEADS", "INPUT", {}),
    ("420", "Entertainment", "OVERHEADS", "INPUT", {}),
    ("429", "General Expenses", "OVERHEADS", "INPUT", {}),
    ("433", "Insurance", "OVERHEADS", "INPUT", {}),
    ("445", "Light, Power, Heating", "OVERHEADS", "INPUT", {}),
    ("449", "Motor Vehicle Expenses", "OVERHEADS", "INPUT", {}),
    ("469", "Rent", "OVERHEADS", "INPUT", {}),
    ("473", "Repairs and Maintenance", "OVERHEADS", "INPUT", {}),
    ("489", "Telephone & Internet", "OVERHEADS", "INPUT", {}),
    ("610", "Accounts Receivable", "CURRENT", "BASEXCLUDED", {"SystemAccount": "DEBTORS"}),
    ("800", "Accounts Payable", "CURRLIAB", "BASEXCLUDED", {"SystemAccount": "CREDITORS"}),
    ("820", "GST", "CURRLIAB", "BASEXCLUDED", {"SystemAccount": "GST"}),
    ("840", "Historical Adjustment", "CURRLIAB", "BASEXCLUDED", {"SystemAccount": "HISTORICAL"}),
    ("880", "Owner A Drawings", "CURRLIAB", "BASEXCLUDED", {}),
    ("970", "Owner A Funds Introduced", "EQUITY", "BASEXCLUDED", {}),
]
_CLASSES = {
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "REVENUE": "REVENUE",
    "DIRECTCOSTS": "EXPENSE",
    "OVERHEADS": "EXPENSE",
    "CURRLIAB": "LIABILITY",
    "EQUITY": "EQUITY",
}
# (tax type, name, rate %, report tax type, applies to expenses, applies to revenue)
AU_TAX_RATES: list[tuple[str, str, str, str, bool, bool]] = [
    ("INPUT", "GST on Expenses", "10", "INPUT", True, False),
    ("OUTPUT", "GST on Income", "10", "OUTPUT", False, True),
    ("EXEMPTEXPENSES", "GST Free Expenses", "0", "EXEMPTEXPENSES", True, False),
    ("EXEMPTOUTPUT", "GST Free Income", "0", "EXEMPTOUTPUT", False, True),
    ("BASEXCLUDED", "BAS Excluded", "0", "BASEXCLUDED", True, True),
    ("INPUTTAXED", "Input Taxed", "0", "INPUTTAXED", True, True),
    ("GSTONIMPORTS", "GST on Imports", "0", "GSTONIMPORTS", True, False),
    ("CAPEXINPUT", "GST on Capital", "10", "CAPITALEXPENSESINPUT", True, False),
]


class _Ids:
    """Deterministic GUIDs for seeded records."""

    def __init__(self, scenario: Scenario) -> None:
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"trestle-xero-{scenario.dataset}-{scenario.seed}")

    def __call__(self, *parts: object) -> str:
        return str(uuid.uuid5(self.namespace, "/".join(str(part) for part in parts)))


class _Stamps:
    """``UpdatedDateUTC`` values counting back from the scenario's "now"."""

    def __init__(self, now: datetime) -> None:
        self.next = now - timedelta(days=1)

    def __call__(self) -> datetime:
        self.next -= timedelta(minutes=1)
        return self.next


def build_state(scenario: Scenario) -> XeroState:
    """The organisation the scenario describes, with its contacts, tracking and bills."""
    ids, stamps = _Ids(scenario), _Stamps(scenario.now)
    state = XeroState(tenant_id=scenario.xero_tenant_id, organisation=_organisation(scenario, ids))
    for code, name, kind, tax_type, extra in CHART_OF_ACCOUNTS:
        account_id = ids("account", code)
        state.accounts[account_id] = {
            "AccountID": account_id,
            "Code": code,
            "Name": name,
            "Type": kind,
            "Status": "ACTIVE",
            "TaxType": tax_type,
            "Class": _CLASSES[kind],
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": kind in {"OVERHEADS", "DIRECTCOSTS"},
            "CurrencyCode": "AUD" if kind == "BANK" else None,
            "ReportingCode": None,
            "HasAttachments": False,
            "AddToWatchlist": False,
            "UpdatedDateUTC": stamps(),
        } | extra
    for tax_type, name, rate, report, expenses, revenue in AU_TAX_RATES:
        percent = Decimal(rate)
        state.tax_rates[tax_type] = {
            "Name": name,
            "TaxType": tax_type,
            "ReportTaxType": report,
            "Status": "ACTIVE",
            "TaxComponents": [{"Name": "GST", "Rate": percent, "IsCompound": False, "IsNonRecoverable": False}],
            "CanApplyToAssets": True,
            "CanApplyToEquity": True,
            "CanApplyToExpenses": expenses,
            "CanApplyToLiabilities": True,
            "CanApplyToRevenue": revenue,
            "DisplayTaxRate": percent,
            "EffectiveRate": percent,
        }
    _seed_contacts(state, scenario, ids, stamps)
    _seed_tracking(state, scenario, ids, stamps)
    _seed_bills(state, scenario, ids, stamps)
    seed_bill_attachments(state)
    state.last_stamp = scenario.now
    return state


def _organisation(scenario: Scenario, ids: _Ids) -> Record:
    return {
        # Xero: a connection's tenantId is the organisation's OrganisationID (the SDKs join on it).
        "OrganisationID": scenario.xero_tenant_id,
        "APIKey": None,
        "Name": scenario.xero_org_name,
        "LegalName": scenario.xero_org_name,
        "PaysTax": True,
        "Version": "AU",
        "OrganisationType": "COMPANY",
        "BaseCurrency": "AUD",
        "CountryCode": "AU",
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "TaxNumber": "12 345 678 901",
        "FinancialYearEndDay": 30,
        "FinancialYearEndMonth": 6,
        "SalesTaxBasis": "ACCRUALS",
        "SalesTaxPeriod": "QUARTERLY1",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive",
        "CreatedDateUTC": scenario.now - timedelta(days=3 * 365),
        "Timezone": "AUSEASTERNSTANDARDTIME",
        "OrganisationEntityType": "COMPANY",
        "ShortCode": "!Tr3sL",
        "Class": "STANDARD",
        "Edition": "BUSINESS",
        "LineOfBusiness": "Construction",
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {},
    }


def _seed_contacts(state: XeroState, scenario: Scenario, ids: _Ids, stamps: _Stamps) -> None:
    group_id = ids("contact-group", scenario.contact_group)
    state.contact_groups[group_id] = {
        "ContactGroupID": group_id,
        "Name": scenario.contact_group,
        "Status": "ACTIVE",
        "_members": [],
    }
    for party in scenario.parties:
        if party.xero_name is None:
            continue
        contact_id = ids("contact", party.key)
        address = party.address
        contact: Record = {
            "ContactID": contact_id,
            "ContactStatus": "ARCHIVED" if party.xero_archived else "ACTIVE",
            "Name": party.xero_name,
            "EmailAddress": party.email,
            "TaxNumber": party.tax_number,
            "Addresses": [
                {
                    "AddressType": "STREET",
                    "AddressLine1": address.line1,
                    "City": address.city,
                    "Region": address.region,
                    "PostalCode": address.postal_code,
                    "Country": address.country,
                }
            ],
            "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": party.phone}],
            "IsSupplier": False,
            "IsCustomer": False,
            "ContactPersons": [],
            "UpdatedDateUTC": stamps(),
            "_party_key": party.key,
        }
        if party.payment_terms_days is not None:
            contact["PaymentTerms"] = {"Bills": {"Day": party.payment_terms_days, "Type": "DAYSAFTERBILLDATE"}}
        state.contacts[contact_id] = contact
        if party.in_procore_group:
            state.contact_groups[group_id]["_members"].append(contact_id)


def _seed_tracking(state: XeroState, scenario: Scenario, ids: _Ids, stamps: _Stamps) -> None:
    project_options = [p.xero_option for p in scenario.projects if p.xero_option]
    for name, options in (("Project", project_options), ("Cost Code", scenario.xero_cost_code_options)):
        category_id = ids("tracking-category", name)
        state.tracking_categories[category_id] = {
            "TrackingCategoryID": category_id,
            "Name": name,
            "Status": "ACTIVE",
            "UpdatedDateUTC": stamps(),
            "Options": [
                {"TrackingOptionID": ids("tracking-option", name, option), "Name": option, "Status": "ACTIVE"}
                for option in dict.fromkeys(options)
            ],
        }


def _tracking_for(scenario: Scenario, project_key: str | None, cost_code: str | None) -> list[Record]:
    tracking: list[Record] = []
    if project_key is None:
        return tracking
    project = scenario.project(project_key)
    if project.xero_option:
        tracking.append({"Name": "Project", "Option": project.xero_option})
    if cost_code:
        names = dict(scenario.standard_cost_codes + scenario.non_standard_cost_codes)
        option = cost_code_option_name(cost_code, names.get(cost_code, ""))
        if option in scenario.xero_cost_code_options:
            tracking.append({"Name": "Cost Code", "Option": option})
    return tracking


def _seed_bills(state: XeroState, scenario: Scenario, ids: _Ids, stamps: _Stamps) -> None:
    bank_account_id = ids("account", BANK_ACCOUNT_CODE)
    for bill in scenario.bills:
        problems = Problems()
        lines = [
            build_line(
                state,
                {
                    "Description": line.description,
                    "Quantity": 1,
                    "UnitAmount": line.amount,
                    "AccountCode": line.account_code,
                    "TaxType": "INPUT",
                    "Tracking": _tracking_for(scenario, line.project_key or bill.project_key, line.cost_code),
                },
                amount_types="Exclusive",
                default_tax_type="INPUT",
                known_line_ids=set(),
                require_account=True,
                problems=problems,
            )
            for line in bill.lines
        ]
        for index, line in enumerate(lines):
            line["LineItemID"] = ids("bill-line", bill.key, index)
        problems.raise_if_any()  # a scenario that does not fit the chart of accounts is a bug
        invoice_id = ids("bill", bill.key)
        invoice: Record = {
            "InvoiceID": invoice_id,
            "Type": "ACCPAY",
            "InvoiceNumber": bill.invoice_number,
            "Status": bill.status,
            "LineAmountTypes": "Exclusive",
            "CurrencyCode": "AUD",
            "CurrencyRate": Decimal(1),
            "Date": bill.bill_date,
            "DueDate": bill.due_date,
            "LineItems": lines,
            "_payments": [],
            "_contact_id": ids("contact", bill.party_key),
            "AmountCredited": Decimal(0),
        } | document_totals(lines, "Exclusive")
        state.contacts[invoice["_contact_id"]]["IsSupplier"] = True
        recompute_balances(state, INVOICE, invoice)
        for number, payment in enumerate(bill.payments):
            amount = invoice["AmountDue"] if payment.amount is None else money(payment.amount)
            payment_id = ids("payment", bill.key, number)
            state.payments[payment_id] = {
                "PaymentID": payment_id,
                "Date": payment.paid_on,
                "Amount": amount,
                "BankAmount": amount,
                "CurrencyRate": Decimal(1),
                "Reference": payment.reference,
                "IsReconciled": False,
                "Status": "AUTHORISED",
                "PaymentType": "ACCPAYPAYMENT",
                "UpdatedDateUTC": stamps(),
                "_account_id": bank_account_id,
                "_kind": INVOICE.store,
                "_document_id": invoice_id,
            }
            invoice["_payments"].append(payment_id)
            recompute_balances(state, INVOICE, invoice)
        invoice["UpdatedDateUTC"] = stamps()
        state.invoices[invoice_id] = invoice
