"""The seeded world both sandboxes start from: one general contractor, described once.

A scenario is business facts, not API records: who the subcontractors are, which of them
exist in Xero and which in Procore (and how their names drift between the two), which
projects and cost codes there are, which commitments and progress claims, which bills the
bookkeeper entered straight into Xero. Each sandbox turns the same scenario into its own
records (``xero_seed.py``, ``procore_seed.py``), so cross-system facts agree: a vendor on a
Procore commitment is the same business as a Xero contact.

The generator is deterministic for a given ``(dataset, seed)`` and deliberately plants the
problems the integrations must report: invalid countries and regions, duplicate-looking
names, inactive vendors, projects without numbers, non-standard cost codes, commitments
with no lines or an un-integrated vendor, claims in every status, negative claims, bills
with partial and full payments. :func:`_plant_every_path` then adds, in every dataset, the few
records that make sure even ``small`` reaches each path: an inactive project, a region spelt out
("New South Wales"), a contact matched to a vendor only by tax number, a bill coded to two
projects and a bill paid in several parts (a negative claim on an integrated vendor, which
becomes a credit note, comes from the generator itself).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from trestle.naming import cost_code_option_name, project_option_name

DATASET_SIZES: dict[str, dict[str, int]] = {
    "small": {"projects": 6, "parties": 36, "commitments": 16, "claims": 30, "bills": 12},
    "medium": {"projects": 30, "parties": 250, "commitments": 300, "claims": 600, "bills": 120},
    "large": {"projects": 200, "parties": 2000, "commitments": 5000, "claims": 10000, "bills": 1500},
}

PROJECT_STAGES = [
    "Bidding",
    "Pre-Construction",
    "Course of Construction",
    "Send to Xero",
    "Post-Construction",
]
SEND_STAGE = "Send to Xero"
PRE_EXISTING_COST_CODES = 12  # cost code options the bookkeeper created in Xero before Trestle
WOC_STATUSES = ["Draft", "Out For Bid", "Out For Signature", "Approved", "Complete", "Terminated", "Void"]
POC_STATUSES = ["Draft", "Processing", "Submitted", "Partially Received", "Received", "Approved", "Closed"]
CLAIM_STATUSES = [
    "draft",
    "under_review",
    "revise_and_resubmit",
    "approved",
    "approved_as_noted",
    "pending_owner_approval",
]

# (full code, name): a CSI-style standard list a general contractor would keep.
STANDARD_COST_CODES: list[tuple[str, str]] = [
    ("01-100", "General Requirements"),
    ("01-500", "Temporary Facilities"),
    ("02-200", "Site Preparation"),
    ("02-300", "Earthwork"),
    ("03-100", "Concrete Formwork"),
    ("03-200", "Concrete Reinforcement"),
    ("03-300", "Cast-in-Place Concrete"),
    ("04-200", "Unit Masonry"),
    ("05-100", "Structural Steel"),
    ("05-500", "Metal Fabrications"),
    ("06-100", "Rough Carpentry"),
    ("06-200", "Finish Carpentry"),
    ("07-200", "Insulation"),
    ("07-500", "Membrane Roofing"),
    ("08-100", "Doors and Frames"),
    ("08-800", "Glazing"),
    ("09-200", "Plaster and Gypsum Board"),
    ("09-600", "Flooring"),
    ("09-900", "Painting"),
    ("10-400", "Signage"),
    ("21-100", "Fire Suppression"),
    ("22-100", "Plumbing"),
    ("23-100", "HVAC"),
    ("26-100", "Electrical"),
    ("27-100", "Communications"),
    ("31-200", "Excavation and Fill"),
    ("32-100", "Paving"),
    ("32-900", "Landscaping"),
]
# Codes some project teams invented locally; never on the standard list.
NON_STANDARD_COST_CODES: list[tuple[str, str]] = [
    ("99-001", "Misc Site Costs"),
    ("01-999", "PM Contingency"),
]

_TRADES = [
    ("Concrete", "03-300"),
    ("Formwork", "03-100"),
    ("Steel", "05-100"),
    ("Electrical", "26-100"),
    ("Plumbing", "22-100"),
    ("Mechanical", "23-100"),
    ("Roofing", "07-500"),
    ("Glazing", "08-800"),
    ("Painting", "09-900"),
    ("Drywall", "09-200"),
    ("Flooring", "09-600"),
    ("Earthworks", "31-200"),
    ("Landscaping", "32-900"),
    ("Fire Protection", "21-100"),
    ("Carpentry", "06-100"),
    ("Masonry", "04-200"),
    ("Scaffolding", "01-500"),
    ("Paving", "32-100"),
]
_SURNAMES = [
    "Anderson",
    "Baxter",
    "Chen",
    "Delaney",
    "Evans",
    "Fitzgerald",
    "Gupta",
    "Harrison",
    "Ivanov",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Morgan",
    "Nguyen",
    "O'Brien",
    "Patel",
    "Quinn",
    "Russo",
    "Sullivan",
    "Tanaka",
    "Underwood",
    "Vega",
    "Walsh",
    "Xu",
    "Young",
    "Zimmerman",
    "Brennan",
    "Castillo",
    "Doyle",
    "Ellison",
    "Fraser",
    "Goldberg",
    "Hughes",
    "Keane",
    "Lindqvist",
    "Murphy",
]
_PLACES = [
    "Harbour",
    "Summit",
    "Riverside",
    "Pacific",
    "Southern Cross",
    "Northgate",
    "Bayside",
    "Ironbark",
    "Granite",
    "Westfield",
    "Eastern",
    "Coastal",
    "Highland",
    "Metro",
    "Pioneer",
    "Redgum",
]
_SUFFIXES = ["Pty Ltd", "Ltd", "Group", "Services", "Contracting", "& Sons", "Co", "Inc"]
_PROJECT_KINDS = [
    "Tower",
    "Medical Centre",
    "Primary School",
    "Warehouse",
    "Apartments",
    "Library",
    "Aquatic Centre",
    "Office Fit-out",
    "Bridge Upgrade",
    "Data Centre",
    "Hotel",
    "Retail Centre",
    "Depot",
    "Clinic",
]
_STREETS = ["George St", "King St", "Queen St", "Collins St", "Main Rd", "Station St", "High St", "Church St"]

# (country as entered, region as entered, city, postcode, valid?) - the valid pool by country.
_ADDRESS_POOL: dict[str, list[tuple[str, str, str]]] = {
    "AU": [
        ("NSW", "Sydney", "2000"),
        ("VIC", "Melbourne", "3000"),
        ("QLD", "Brisbane", "4000"),
        ("WA", "Perth", "6000"),
        ("SA", "Adelaide", "5000"),
        ("TAS", "Hobart", "7000"),
    ],
    "NZ": [("AUK", "Auckland", "1010"), ("WGN", "Wellington", "6011"), ("CAN", "Christchurch", "8011")],
    "US": [
        ("CA", "San Diego", "92101"),
        ("TX", "Austin", "78701"),
        ("WA", "Seattle", "98101"),
        ("NY", "New York", "10001"),
    ],
    "GB": [("LND", "London", "EC1A 1BB"), ("MAN", "Manchester", "M1 1AE")],
}


@dataclass(frozen=True)
class Address:
    """A postal address exactly as a user typed it (country and region may be invalid)."""

    line1: str
    city: str
    region: str
    postal_code: str
    country: str


@dataclass
class Party:
    """A supplier or subcontractor business, as known to Xero and/or Procore.

    ``xero_name`` and ``procore_name`` differ where the two systems drifted apart (suffixes,
    case); ``None`` means the party does not exist in that system.
    """

    key: str
    trade: str
    xero_name: str | None
    procore_name: str | None
    tax_number: str | None
    email: str
    phone: str
    address: Address
    in_procore_group: bool = False
    xero_archived: bool = False
    procore_active: bool = True
    payment_terms_days: int | None = None
    planted: list[str] = field(default_factory=list)


@dataclass
class Project:
    """A Procore project; ``xero_option`` is set where a Xero "Project" option already exists."""

    key: str
    number: str | None
    name: str
    stage: str
    active: bool
    cost_codes: list[str]
    address: Address
    start_date: date
    xero_option: str | None = None
    planted: list[str] = field(default_factory=list)


@dataclass
class CommitmentLine:
    cost_code: str
    description: str
    amount: Decimal


@dataclass
class Commitment:
    """A work order (subcontract) or purchase order contract."""

    key: str
    project_key: str
    kind: str  # "work_order" | "purchase_order"
    number: str
    title: str
    vendor_key: str
    status: str
    retainage_percent: Decimal
    contract_date: date
    lines: list[CommitmentLine]
    planted: list[str] = field(default_factory=list)


@dataclass
class ClaimLine:
    cost_code: str
    line_index: int  # which commitment line this bills against
    work_completed_this_period: Decimal
    materials_presently_stored: Decimal


@dataclass
class Claim:
    """A Procore subcontractor invoice ("requisition") against a commitment."""

    key: str
    commitment_key: str
    number: int
    invoice_number: str
    status: str
    period_start: date
    period_end: date
    billing_date: date
    lines: list[ClaimLine]
    planted: list[str] = field(default_factory=list)


@dataclass
class BillLine:
    """One bill line; ``project_key`` overrides the bill's project (a bill coded to two projects)."""

    description: str
    account_code: str
    amount: Decimal
    cost_code: str | None
    project_key: str | None = None


@dataclass
class BillPayment:
    """A payment on a bill; ``amount`` None pays whatever is due (tax included)."""

    paid_on: date
    amount: Decimal | None
    reference: str


@dataclass
class Bill:
    """A bill the bookkeeper entered directly in Xero, optionally coded to a project."""

    key: str
    party_key: str
    project_key: str | None
    invoice_number: str
    bill_date: date
    due_date: date
    status: str  # DRAFT | AUTHORISED (PAID follows from payments)
    lines: list[BillLine]
    payments: list[BillPayment] = field(default_factory=list)


@dataclass
class Scenario:
    """Everything the sandboxes seed from."""

    dataset: str
    seed: int
    now: datetime
    company_name: str
    procore_company_id: int
    xero_tenant_id: str
    xero_org_name: str
    contact_group: str
    parties: list[Party]
    projects: list[Project]
    standard_cost_codes: list[tuple[str, str]]
    non_standard_cost_codes: list[tuple[str, str]]
    xero_cost_code_options: list[str]
    commitments: list[Commitment]
    claims: list[Claim]
    bills: list[Bill]

    def party(self, key: str) -> Party:
        found: Party = self._index("parties")[key]
        return found

    def project(self, key: str) -> Project:
        found: Project = self._index("projects")[key]
        return found

    def commitment(self, key: str) -> Commitment:
        found: Commitment = self._index("commitments")[key]
        return found

    def _index(self, name: str) -> dict[str, Any]:
        """The records of the list ``name`` by key (built once)."""
        cache = self.__dict__.setdefault("_indexes", {})
        if name not in cache:
            cache[name] = {item.key: item for item in getattr(self, name)}
        index: dict[str, Any] = cache[name]
        return index


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _abn(rng: random.Random) -> str:
    groups = (rng.randint(10, 99), rng.randint(100, 999), rng.randint(100, 999), rng.randint(100, 999))
    return " ".join(str(group) for group in groups)


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def build_scenario(dataset: str = "small", seed: int = 1) -> Scenario:
    """Build the deterministic world for ``dataset`` (small | medium | large) and ``seed``."""
    if dataset not in DATASET_SIZES:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASET_SIZES)}")
    sizes = DATASET_SIZES[dataset]
    rng = random.Random(f"trestle-{dataset}-{seed}")
    now = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    parties = _build_parties(rng, sizes["parties"])
    projects = _build_projects(rng, sizes["projects"], now.date())
    commitments = _build_commitments(rng, sizes["commitments"], projects, parties)
    claims = _build_claims(rng, sizes["claims"], commitments)
    bills = _build_bills(rng, sizes["bills"], projects, parties, now.date())
    _plant_every_path(random.Random(f"trestle-paths-{dataset}-{seed}"), parties, projects, bills, now.date())
    xero_codes = [cost_code_option_name(code, name) for code, name in STANDARD_COST_CODES[:PRE_EXISTING_COST_CODES]]
    return Scenario(
        dataset=dataset,
        seed=seed,
        now=now,
        company_name="Ironbark Constructions",
        procore_company_id=598134325841112 + seed,
        xero_tenant_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"trestle-sandbox-tenant-{seed}")),
        xero_org_name="Ironbark Constructions Pty Ltd",
        contact_group="Procore",
        parties=parties,
        projects=projects,
        standard_cost_codes=list(STANDARD_COST_CODES),
        non_standard_cost_codes=list(NON_STANDARD_COST_CODES),
        xero_cost_code_options=xero_codes,
        commitments=commitments,
        claims=claims,
        bills=bills,
    )


def _address(rng: random.Random, planted: list[str]) -> Address:
    roll = rng.random()
    country = "AU" if roll < 0.6 else "NZ" if roll < 0.75 else "US" if roll < 0.9 else "GB"
    region, city, postcode = rng.choice(_ADDRESS_POOL[country])
    line1 = f"{rng.randint(1, 400)} {rng.choice(_STREETS)}"
    entered_country = country
    flaw = rng.random()
    if flaw < 0.08:
        entered_country = {"AU": "AUS", "NZ": "NZL", "US": "USA", "GB": "GBR"}[country]  # alpha-3: valid
    elif flaw < 0.12:
        entered_country = rng.choice(["Australia ", "Untied States", "XX", "N.Z."])
        planted.append("contact.invalid_country")
    elif flaw < 0.15:
        region = rng.choice(["ZZ", "Sydney", "NSW-9"])
        planted.append("contact.invalid_region")
    return Address(line1, city, region, postcode, entered_country)


def _build_parties(rng: random.Random, count: int) -> list[Party]:
    parties: list[Party] = []
    used: set[str] = set()
    for index in range(count):
        key = f"party-{index + 1:05d}"
        trade, _code = _TRADES[index % len(_TRADES)]
        base = f"{rng.choice(_SURNAMES + _PLACES)} {trade}"
        while base in used:
            base = f"{rng.choice(_SURNAMES + _PLACES)} {rng.choice(_PLACES)} {trade}"
        used.add(base)
        suffix = rng.choice(_SUFFIXES)
        planted: list[str] = []
        party = Party(
            key=key,
            trade=trade,
            xero_name=f"{base} {suffix}",
            procore_name=None,
            tax_number=_abn(rng) if rng.random() < 0.7 else None,
            email=f"accounts@{_slug(base)}.example",
            phone=f"0{rng.randint(2, 8)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            address=_address(rng, planted),
            payment_terms_days=rng.choice([None, 14, 30, 30, 45]),
            planted=planted,
        )
        roll = rng.random()
        if roll < 0.70:
            party.in_procore_group = True
        elif roll < 0.78:
            party.xero_archived = True
        presence = rng.random()
        if presence < 0.40:
            party.procore_name = party.xero_name  # exact name in both systems
        elif presence < 0.55:
            party.procore_name = f"{base}".upper() if rng.random() < 0.5 else f"{base} {suffix}".lower()
        elif presence < 0.62:
            party.procore_name = f"{base} {rng.choice([s for s in _SUFFIXES if s != suffix])}"
        parties.append(party)
    _plant_party_problems(rng, parties)
    return parties


def _plant_party_problems(rng: random.Random, parties: list[Party]) -> None:
    grouped = [p for p in parties if p.in_procore_group and p.procore_name and not p.planted]
    # Inactive Procore vendors whose Xero details will need an update.
    for party in grouped[: max(1, len(grouped) // 25)]:
        party.procore_active = False
        party.planted.append("vendor.inactive_needs_update")
        party.xero_name = f"{party.xero_name} (Trading)"
    # Two Procore vendors that both look like one Xero contact.
    start = max(1, len(grouped) // 25)
    for party in grouped[start : start + max(1, len(grouped) // 30)]:
        twin = Party(
            key=f"{party.key}-twin",
            trade=party.trade,
            xero_name=None,
            procore_name=f"{party.procore_name} Holdings",
            tax_number=None,
            email=party.email.replace("accounts@", "admin@"),
            phone=party.phone,
            address=party.address,
            planted=[],
        )
        party.tax_number = None
        party.procore_name = f"{party.xero_name} Services"
        party.planted.append("vendor.multiple_matches")
        parties.append(twin)


def _build_projects(rng: random.Random, count: int, today: date) -> list[Project]:
    standard = [code for code, _ in STANDARD_COST_CODES]
    projects: list[Project] = []
    for index in range(count):
        planted: list[str] = []
        number: str | None = f"{2023 + index % 4}-{index + 101:03d}"
        stage_roll = rng.random()
        stage = SEND_STAGE if stage_roll < 0.6 else rng.choice(PROJECT_STAGES)
        if index % 11 == 5:
            number = None
            stage = SEND_STAGE
            planted.append("project.no_number")
        active = index % 13 != 7
        codes = rng.sample(standard, k=min(len(standard), rng.randint(8, 16)))
        if index % 4 == 1:
            codes.append(rng.choice(NON_STANDARD_COST_CODES)[0])
            planted.append("cost_code.not_standard")
        region, city, postcode = rng.choice(_ADDRESS_POOL["AU"])
        name = f"{rng.choice(_PLACES)} {rng.choice(_PROJECT_KINDS)}"
        project = Project(
            key=f"project-{index + 1:04d}",
            number=number,
            name=name,
            stage=stage,
            active=active,
            cost_codes=sorted(codes),
            address=Address(f"{rng.randint(1, 300)} {rng.choice(_STREETS)}", city, region, postcode, "AU"),
            start_date=today - timedelta(days=rng.randint(30, 700)),
            planted=planted,
        )
        if number and index % 5 == 0:  # set up in Xero before Trestle: sent earlier, so at the stage
            project.xero_option = project_option_name(number, name)
            project.stage = SEND_STAGE
        projects.append(project)
    return projects


def _build_commitments(
    rng: random.Random, count: int, projects: list[Project], parties: list[Party]
) -> list[Commitment]:
    procore_vendors = [
        p for p in parties if p.procore_name and p.procore_active and "vendor.multiple_matches" not in p.planted
    ]
    integrated = [p for p in procore_vendors if p.in_procore_group and not p.planted]
    outsiders = [p for p in procore_vendors if not p.in_procore_group]
    commitments: list[Commitment] = []
    counters: dict[tuple[str, str], int] = {}
    for index in range(count):
        project = projects[index % len(projects)]
        kind = "work_order" if rng.random() < 0.7 else "purchase_order"
        statuses = WOC_STATUSES if kind == "work_order" else POC_STATUSES
        status = "Approved" if rng.random() < 0.65 else rng.choice(statuses)
        planted: list[str] = []
        vendor = (
            rng.choice(integrated) if integrated and (rng.random() < 0.9 or not outsiders) else rng.choice(outsiders)
        )
        if vendor in outsiders:
            planted.append("commitment.vendor_not_integrated")
        if status != "Approved":
            planted.append("commitment.not_approved")
        line_count = 0 if index % 17 == 9 else rng.randint(1, 4)
        if line_count == 0:
            planted.append("commitment.no_lines")
        lines = [
            CommitmentLine(code, f"{vendor.trade} works - {code}", _money(rng, 2_000, 250_000))
            for code in rng.sample(project.cost_codes, k=min(line_count, len(project.cost_codes)))
        ]
        if any(code not in {c for c, _ in STANDARD_COST_CODES} for code in (ln.cost_code for ln in lines)):
            planted.append("commitment.invalid_cost_code")
        prefix = "SC" if kind == "work_order" else "PO"
        counters[(project.key, prefix)] = counters.get((project.key, prefix), 0) + 1
        commitments.append(
            Commitment(
                key=f"commitment-{index + 1:05d}",
                project_key=project.key,
                kind=kind,
                number=f"{prefix}-{counters[(project.key, prefix)]:03d}",
                title=f"{vendor.trade} package",
                vendor_key=vendor.key,
                status=status,
                retainage_percent=Decimal(rng.choice([0, 5, 10])) if kind == "work_order" else Decimal(0),
                contract_date=project.start_date + timedelta(days=rng.randint(5, 90)),
                lines=lines,
                planted=planted,
            )
        )
    return commitments


def _build_claims(rng: random.Random, count: int, commitments: list[Commitment]) -> list[Claim]:
    billable = [c for c in commitments if c.lines and c.status in {"Approved", "Complete"}] or commitments
    claims: list[Claim] = []
    sequence: dict[str, int] = {}
    for index in range(count):
        commitment = billable[index % len(billable)]
        sequence[commitment.key] = sequence.get(commitment.key, 0) + 1
        number = sequence[commitment.key]
        start = commitment.contract_date + timedelta(days=30 * (number - 1))
        status = "approved" if rng.random() < 0.55 else rng.choice(CLAIM_STATUSES)
        negative = index % 23 == 11
        lines = []
        for line_index, line in enumerate(commitment.lines):
            fraction = Decimal(rng.randint(3, 20)) / 100
            amount = (line.amount * fraction).quantize(Decimal("0.01"))
            if negative:
                amount = -(line.amount * Decimal("0.02")).quantize(Decimal("0.01"))
            stored = _money(rng, 0, 3_000) if (rng.random() < 0.2 and not negative) else Decimal("0.00")
            lines.append(ClaimLine(line.cost_code, line_index, amount, stored))
        planted = ["claim.negative"] if negative else []
        claims.append(
            Claim(
                key=f"claim-{index + 1:06d}",
                commitment_key=commitment.key,
                number=number,
                invoice_number=f"INV-{rng.randint(1000, 99999)}",
                status=status,
                period_start=start,
                period_end=start + timedelta(days=29),
                billing_date=start + timedelta(days=30),
                lines=lines,
                planted=planted,
            )
        )
    return claims


def _build_bills(
    rng: random.Random, count: int, projects: list[Project], parties: list[Party], today: date
) -> list[Bill]:
    suppliers = [p for p in parties if p.xero_name and not p.xero_archived]
    # Most bills come from suppliers Procore knows (in the contact group, cleanly matched);
    # the rest are the planted "supplier not linked" cases.
    known = [p for p in suppliers if p.in_procore_group and not p.planted] or suppliers
    coded_projects = [p for p in projects if p.xero_option and p.active]
    for project in projects:  # every project with bills needs its Xero option to exist
        if project.number and project.active and not project.xero_option and len(coded_projects) < 3:
            project.xero_option = project_option_name(project.number, project.name)
            project.stage = SEND_STAGE
            coded_projects.append(project)
    # Bookkeepers can only pick cost code options that exist in Xero already.
    coded_in_xero = {code for code, _ in STANDARD_COST_CODES[:PRE_EXISTING_COST_CODES]}
    bills: list[Bill] = []
    for index in range(count):
        party = rng.choice(known) if rng.random() < 0.9 else rng.choice(suppliers)
        bill_project = rng.choice(coded_projects) if coded_projects and rng.random() < 0.75 else None
        bill_date = today - timedelta(days=rng.randint(1, 120))
        usable_codes = sorted(coded_in_xero & set(bill_project.cost_codes)) if bill_project else []
        lines = []
        for _ in range(rng.randint(1, 3)):
            code = rng.choice(usable_codes) if usable_codes and rng.random() < 0.95 else None
            lines.append(
                BillLine(f"{party.trade} supplies", rng.choice(["310", "320", "325"]), _money(rng, 80, 9_000), code)
            )
        bill = Bill(
            key=f"bill-{index + 1:05d}",
            party_key=party.key,
            project_key=bill_project.key if bill_project else None,
            invoice_number=f"{party.trade[:3].upper()}-{rng.randint(10000, 99999)}",
            bill_date=bill_date,
            due_date=bill_date + timedelta(days=30),
            status="AUTHORISED" if rng.random() < 0.85 else "DRAFT",
            lines=lines,
        )
        if bill.status == "AUTHORISED":
            subtotal = sum((line.amount for line in lines), Decimal(0))
            roll = rng.random()
            if roll < 0.3:
                bill.payments.append(BillPayment(bill_date + timedelta(days=20), None, "Paid in full"))
            elif roll < 0.5:
                part = (subtotal / 2).quantize(Decimal("0.01"))
                bill.payments.append(BillPayment(bill_date + timedelta(days=15), part, "Part payment"))
        bills.append(bill)
    return bills


def _plant_every_path(
    rng: random.Random, parties: list[Party], projects: list[Project], bills: list[Bill], today: date
) -> None:
    """Append the records that guarantee every integration path, whatever the dataset's size.

    They are appended after everything else is generated (with their own ``rng``), so the
    commitments, claims and bills drawn before them do not change.
    """
    standard = [code for code, _ in STANDARD_COST_CODES]
    number = len(projects) + 101
    projects.append(
        Project(
            key=f"project-{len(projects) + 1:04d}",
            number=f"2026-{number:03d}",
            name="Closed Riverside Depot",
            stage=SEND_STAGE,
            active=False,
            cost_codes=sorted(rng.sample(standard, k=8)),
            address=Address("8 Station St", "Sydney", "NSW", "2000", "AU"),
            start_date=today - timedelta(days=400),
            planted=["project.inactive"],
        )
    )
    taken = {p.tax_number for p in parties if p.tax_number}
    tax_number = next(t for t in (_abn(rng) for _ in range(100)) if t not in taken)
    parties.append(
        Party(
            key=f"party-{len(parties) + 1:05d}",
            trade="Scaffolding",
            xero_name="Waratah Access Scaffolding Pty Ltd",
            procore_name=None,
            tax_number=None,
            email="accounts@waratahaccess.example",
            phone="02 9555 0101",
            address=Address("40 Parramatta Rd", "Sydney", "New South Wales", "2000", "AU"),
            in_procore_group=True,
            planted=["contact.region_by_name"],
        )
    )
    parties.append(
        Party(
            key=f"party-{len(parties) + 1:05d}",
            trade="Earthworks",
            xero_name="Tumbarumba Civil Pty Ltd",
            procore_name="TCPL Earthmoving",
            tax_number=tax_number,
            email="accounts@tumbarumbacivil.example",
            phone="02 6948 2200",
            address=Address("3 Bridge St", "Tumbarumba", "NSW", "2653", "AU"),
            in_procore_group=True,
            planted=["vendor.matched_by_tax_number"],
        )
    )
    _plant_bill_paths(rng, parties, projects, bills, today)


def _plant_bill_paths(
    rng: random.Random, parties: list[Party], projects: list[Project], bills: list[Bill], today: date
) -> None:
    """A bill coded to two projects, and a bill paid in three parts."""
    known = [p for p in parties if p.xero_name and p.in_procore_group and not p.xero_archived and not p.planted]
    in_xero = {code for code, _ in STANDARD_COST_CODES[:PRE_EXISTING_COST_CODES]}
    coded = [p for p in projects if p.xero_option and p.active and in_xero & set(p.cost_codes)]
    if len(coded) < 2 or not known:
        return
    first, second = coded[0], coded[1]
    party = known[0]
    bill_date = today - timedelta(days=20)

    def line(project: Project, amount: str) -> BillLine:
        code = sorted(in_xero & set(project.cost_codes))[0]
        return BillLine(f"{party.trade} supplies", "320", Decimal(amount), code, project.key)

    bills.append(
        Bill(
            key=f"bill-{len(bills) + 1:05d}",
            party_key=party.key,
            project_key=first.key,
            invoice_number=f"TWO-{rng.randint(10000, 99999)}",
            bill_date=bill_date,
            due_date=bill_date + timedelta(days=30),
            status="AUTHORISED",
            lines=[line(first, "1200.00"), line(second, "800.00")],
        )
    )
    bills.append(
        Bill(
            key=f"bill-{len(bills) + 1:05d}",
            party_key=party.key,
            project_key=first.key,
            invoice_number=f"PARTS-{rng.randint(10000, 99999)}",
            bill_date=bill_date,
            due_date=bill_date + timedelta(days=30),
            status="AUTHORISED",
            lines=[line(first, "3000.00")],
            payments=[
                BillPayment(bill_date + timedelta(days=5), Decimal("1000.00"), "Part payment 1 of 3"),
                BillPayment(bill_date + timedelta(days=10), Decimal("1000.00"), "Part payment 2 of 3"),
                BillPayment(bill_date + timedelta(days=15), None, "Final payment"),
            ],
        )
    )
