"""The Procore simulator's entity store: records, ids, timestamps and origin_id uniqueness.

Records are plain dicts shaped like Procore's wire format (snake_case) holding native values;
:mod:`.views` picks the fields each endpoint returns and :mod:`.wire` serialises them. Business
rules that change records live in :mod:`.rules`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Record = dict[str, Any]


def by_id(table: dict[int, Record], key: object) -> Record | None:
    """The record of ``table`` whose id is ``key``; None when the reference is empty or not an id."""
    return table.get(key) if isinstance(key, int) else None


#: First id handed out: above 2**32 on purpose, as Procore's v1 ids are (clients must use int64).
FIRST_ID = 562_949_953_421_312


class ApiError(Exception):
    """An error answered as ``{"errors": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ValidationFailed(Exception):
    """A Rails-style validation failure: ``{"errors": {"field": ["message", ...]}}`` (422 unless told)."""

    def __init__(self, errors: dict[str, list[str]], status: int = 422) -> None:
        super().__init__(str(errors))
        self.errors = errors
        self.status = status


def not_found(kind: str) -> ApiError:
    """The 404 Procore answers for a record that does not exist (or the caller cannot see)."""
    return ApiError(404, f"{kind} not found")


@dataclass
class ProcoreState:
    """Everything one simulated Procore company holds.

    ``seeded_at`` is the scenario's "now"; writes are stamped with whichever is later of the real
    clock and the scenario clock advanced by real elapsed time, so timestamps never go backwards
    relative to the seed and ``filters[updated_at]`` windows behave like production.
    """

    company: Record
    me: Record
    seeded_at: datetime
    project_stages: dict[int, Record] = field(default_factory=dict)
    projects: dict[int, Record] = field(default_factory=dict)
    vendors: dict[int, Record] = field(default_factory=dict)
    standard_cost_code_lists: dict[int, Record] = field(default_factory=dict)
    standard_cost_codes: dict[int, Record] = field(default_factory=dict)
    cost_codes: dict[int, Record] = field(default_factory=dict)
    tax_codes: dict[int, Record] = field(default_factory=dict)
    line_item_types: dict[int, Record] = field(default_factory=dict)
    commitments: dict[int, Record] = field(default_factory=dict)
    requisitions: dict[int, Record] = field(default_factory=dict)
    contract_payments: dict[int, Record] = field(default_factory=dict)
    direct_costs: dict[int, Record] = field(default_factory=dict)
    change_orders: dict[int, Record] = field(default_factory=dict)  # commitment change orders
    next_id: int = FIRST_ID
    started_monotonic: float = field(default_factory=time.monotonic)

    @property
    def company_id(self) -> int:
        return int(self.company["id"])

    def new_id(self) -> int:
        """The next record id (shared sequence, so ids are unique across types like Procore's)."""
        self.next_id += 1
        return self.next_id

    def now(self) -> datetime:
        """The timestamp for a write happening now."""
        simulated = self.seeded_at + timedelta(seconds=time.monotonic() - self.started_monotonic)
        return max(datetime.now(UTC), simulated).replace(microsecond=0)

    def __getstate__(self) -> dict[str, Any]:
        # The monotonic origin is meaningless in another process; a reload continues from "now".
        saved = dict(self.__dict__)
        saved["seeded_at"] = self.now()
        return saved

    def __setstate__(self, saved: dict[str, Any]) -> None:
        self.__dict__.update(saved)
        self.__dict__.setdefault("change_orders", {})  # saved before change orders existed
        self.started_monotonic = time.monotonic()

    # -- lookups -----------------------------------------------------------------------------

    def project(self, project_id: int | None) -> Record:
        """The project with ``project_id`` or a 404."""
        record = self.projects.get(project_id) if project_id is not None else None
        if record is None:
            raise not_found("Project")
        return record

    def commitment(self, commitment_id: int, project_id: int, type_name: str | None = None) -> Record:
        """A live commitment of ``project_id`` (optionally of one type) or a 404."""
        record = self.commitments.get(commitment_id)
        if (
            record is None
            or record["project_id"] != project_id
            or record.get("deleted_at") is not None
            or (type_name is not None and record["type"] != type_name)
        ):
            raise not_found("Commitment")
        return record

    def project_commitments(self, project_id: int, type_name: str | None = None) -> list[Record]:
        """Every commitment of a project (deleted ones included; callers filter)."""
        return [
            record
            for record in self.commitments.values()
            if record["project_id"] == project_id and (type_name is None or record["type"] == type_name)
        ]

    def find_by_origin(self, table: dict[int, Record], origin_id: str, **scope: Any) -> Record | None:
        """The live record in ``table`` carrying ``origin_id`` (within ``scope`` key=value pairs)."""
        for record in table.values():
            if (
                record.get("origin_id") == origin_id
                and record.get("deleted_at") is None
                and all(record.get(key) == value for key, value in scope.items())
            ):
                return record
        return None

    def check_origin_free(
        self, table: dict[int, Record], origin_id: str | None, own_id: int | None, **scope: Any
    ) -> None:
        """Refuse an origin_id another record of the same type already carries (409, per §7)."""
        if origin_id in (None, ""):
            return
        holder = self.find_by_origin(table, str(origin_id), **scope)
        if holder is not None and holder["id"] != own_id:
            raise ValidationFailed({"origin_id": ["has already been taken"]}, status=409)

    def object_counts(self) -> dict[str, int]:
        """Entity counts for ``/_sandbox/stats``."""
        vendors = list(self.vendors.values())
        live_commitments = [c for c in self.commitments.values() if c.get("deleted_at") is None]
        return {
            "projects": len(self.projects),
            "vendors": len(vendors),
            "vendors_active": sum(1 for v in vendors if v["is_active"]),
            "vendors_inactive": sum(1 for v in vendors if not v["is_active"]),
            "standard_cost_codes": len(self.standard_cost_codes),
            "cost_codes": len(self.cost_codes),
            "work_order_contracts": sum(1 for c in live_commitments if c["type"] == WORK_ORDER),
            "purchase_order_contracts": sum(1 for c in live_commitments if c["type"] == PURCHASE_ORDER),
            "requisitions": len(self.requisitions),
            "contract_payments": len(self.contract_payments),
            "direct_costs": sum(1 for d in self.direct_costs.values() if d.get("deleted_at") is None),
            "direct_cost_projects": len(
                {d["project_id"] for d in self.direct_costs.values() if d.get("deleted_at") is None}
            ),
            "direct_cost_attachments": sum(
                len(d.get("attachments") or []) for d in self.direct_costs.values() if d.get("deleted_at") is None
            ),
            "commitment_change_orders": sum(1 for c in self.change_orders.values() if c.get("deleted_at") is None),
        }


WORK_ORDER = "WorkOrderContract"
PURCHASE_ORDER = "PurchaseOrderContract"
#: URL segment -> commitment type, for the two commitment resources.
COMMITMENT_RESOURCES = {"work_order_contracts": WORK_ORDER, "purchase_order_contracts": PURCHASE_ORDER}


def line_record(
    state: ProcoreState,
    *,
    amount: Any,
    description: str | None,
    cost_code_id: int | None,
    position: int,
    stamps: dict[str, Any],
) -> Record:
    """A commitment (or change order) line as the sandbox stores it: a manual line, no tax or units."""
    return {
        "id": state.new_id(),
        "amount": amount,
        "description": description,
        "cost_code_id": cost_code_id,
        "line_item_type_id": None,
        "tax_code_id": None,
        "quantity": None,
        "unit_cost": None,
        "uom": None,
        "extended_type": "manual",
        "position": position,
        "origin_id": None,
        "origin_data": None,
        **stamps,
    }
