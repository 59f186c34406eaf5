"""Shared parts of the mapping tests: what each system holds, read back over the sandboxes' APIs.

A mapping test runs the integrations, pairs each linked source record with what reached the
target, and runs one check per row of the integration's declared ``mapping``. The checks are keyed
by the row's ``target``: a row without a check, or a check without a row, is itself a failure, so
adding a ``FieldMap`` without a test cannot pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from tests.integrations.apis import procore_api, xero_api
from trestle.db import make_engine
from trestle.models.msdate import parse_ms_date
from trestle.models.store import LinkStore
from trestle.tasks.engine import Integration

CENT = Decimal("0.01")

# A check gets the source record, the target record and the world, and says what is wrong (or None).
Check = Callable[[Any, Any, "World"], str | None]


def cents(value: Any) -> Decimal:
    """An amount as the API gave it, to the cent (half-up)."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def iso_date(value: Any) -> date | None:
    """A Procore date or date-time (ISO text) as a date."""
    return date.fromisoformat(str(value)[:10]) if value else None


def xero_date(value: Any) -> date | None:
    """A Xero date (``/Date(…)/`` or ISO) as a date."""
    return parse_ms_date(value) if value else None


def tracking_of(line: dict[str, Any]) -> dict[str, str]:
    """A Xero line's tracking as category name → option name."""
    return {item["Name"]: item["Option"] for item in line.get("Tracking") or []}


def differs(label: str, got: Any, expected: Any) -> str | None:
    """``None`` when equal, else a sentence naming both values."""
    return None if got == expected else f"{label} is {got!r}, expected {expected!r}"


@dataclass
class World:
    """Clients and the link maps a check needs, read once per pass."""

    env: dict[str, str]
    xero: httpx.Client
    procore: httpx.Client
    store: LinkStore
    contact_for_vendor: dict[str, str] = field(default_factory=dict)
    vendor_for_contact: dict[str, str] = field(default_factory=dict)
    project_option: dict[str, str] = field(default_factory=dict)  # Procore project id → option name
    code_option: dict[int, str] = field(default_factory=dict)  # project cost code id → option name
    bill_terms: dict[str, Any] = field(default_factory=dict)  # ContactID → PaymentTerms.Bills

    @classmethod
    def read(cls, env: dict[str, str]) -> World:
        """Open both APIs and load the links and Xero's option names as they are now."""
        store = LinkStore(make_engine(env["TRESTLE_DATABASE_URL"]), "default")
        world = cls(env, xero_api(env), procore_api(env), store)
        vendors = store.links("vendor")
        world.contact_for_vendor = {link.procore_id: link.xero_id for link in vendors}
        world.vendor_for_contact = {link.xero_id: link.procore_id for link in vendors}
        names = world.option_names()
        world.project_option = {link.procore_id: names[link.xero_id] for link in store.links("project")}
        by_standard = {int(link.procore_id): names[link.xero_id] for link in store.links("cost_code")}
        for project_id in world.project_option:
            codes = world.procore.get("/rest/v1.0/cost_codes", params={"project_id": project_id, "per_page": 1000})
            for code in codes.json():
                if code.get("standard_cost_code_id") in by_standard:
                    world.code_option[code["id"]] = by_standard[code["standard_cost_code_id"]]
        contacts = world.xero.get("/Contacts", params={"page": 1, "pageSize": 1000}).json()["Contacts"]
        world.bill_terms = {c["ContactID"]: (c.get("PaymentTerms") or {}).get("Bills") for c in contacts}
        return world

    def option_names(self) -> dict[str, str]:
        """Every tracking option's name by its id (archived ones too)."""
        categories = self.xero.get("/TrackingCategories", params={"includeArchived": "true"}).json()
        return {
            option["TrackingOptionID"]: option["Name"]
            for category in categories["TrackingCategories"]
            for option in category.get("Options", [])
        }

    def close(self) -> None:
        self.xero.close()
        self.procore.close()


def mapping_problems(
    integration: type[Integration],
    checks: dict[str, Check],
    pairs: Iterable[tuple[str, Any, Any]],
    world: World,
) -> list[str]:
    """Every way the ``(label, source, target)`` pairs disagree with the integration's mapping."""
    targets = [row.target for row in integration.mapping]
    problems = [f"{integration.name}: no check for mapped field {t!r}" for t in targets if t not in checks]
    problems += [
        f"{integration.name}: a check for {t!r}, which is not a mapped field" for t in checks if t not in targets
    ]
    count = 0
    for label, source, target in pairs:
        count += 1
        for name in targets:
            problem = checks[name](source, target, world) if name in checks else None
            if problem:
                problems.append(f"{integration.name} {label}: {name}: {problem}")
    if count == 0:
        problems.append(f"{integration.name}: no linked records to check")
    return problems
