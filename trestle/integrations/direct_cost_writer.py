"""Writing one bill's direct costs on documented Procore operations only, exactly once under faults.

A bill becomes one direct cost per project (a *part*). Procore locks a direct cost once its
``origin_id`` is set (no line may then be added, changed or removed), and no documented create
takes lines keyed by cost code, so a part is written in steps, each on a documented operation:

1. header: ``POST /rest/v1.0/projects/{project_id}/direct_costs`` ``{"item": …}`` with
   ``origin_data`` = :func:`mark` and no ``origin_id`` (status draft while half-written);
2. lines: read ``GET …/direct_costs/{id}/line_items`` (skipped for a header just created), then
   ``POST`` each missing line, ``PATCH`` each changed one and ``DELETE`` each line the bill no longer
   has, every line keyed by its ``origin_id`` ``<InvoiceID>:<cost code id>``;
3. lock: ``PATCH …/direct_costs/sync`` ``{id, origin_id, header fields, status approved}``.

A night's new bills take the same steps in batches, one sync per project and step
(:mod:`.direct_cost_batch`); this class writes changes and finishes what a kill or a lost answer
interrupted. A change unlocks first (the same sync with ``origin_id: null``), then runs steps 2–3 on the same
direct cost. A project that drops out of the bill has its part unlocked and deleted.

Exactly once: no step is ever resent blind. A lost answer (or a kill) leaves the bill's intent
pending, and :meth:`DirectCostWriter.write_bill` with ``recovering=True`` finds each part before
writing anything: a locked one by ``filters[origin_id]`` = the part key, a half-written one
(header without lines, lines partly written, or unlocked mid-change) by
``filters[invoice_number]`` and its ``origin_data`` mark. It then finishes that same direct cost,
reading its lines first, so a line whose POST answer was lost is found, not added twice; extra
headers carrying the mark (there should be none) are deleted. A refusal (an ``ApiResponseError``
that is not retriable) rolls back the parts this attempt created, so nothing half-written is left
for a later create to duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from decimal import Decimal
from typing import Any

from trestle.clients.errors import FatalApiError, NotFoundError
from trestle.clients.procore import ProcoreClient
from trestle.integrations.lookups import money
from trestle.models.procore import DirectCostLineItem
from trestle.tasks.engine import WriteItem, WriteResult
from trestle.tasks.faults import crash_point

HEADER_FIELDS = ("vendor_id", "invoice_number", "direct_cost_date", "payment_date", "description")
MARK_PREFIX = "trestle:"


class PartRefused(Exception):
    """Procore refused one step of a part (a sync error element); the message says why."""


def part_key(invoice_id: str, project_id: int | str) -> str:
    """The ``origin_id`` of one part of a split bill: ``<InvoiceID>@<project id>`` (unique per company).

    A bill in one project keeps ``origin_id`` = InvoiceID, as before bills were split.
    """
    return f"{invoice_id}@{project_id}"


def mark(key: str) -> str:
    """The ``origin_data`` a part carries from its first step, so a half-written part can be found."""
    return f"{MARK_PREFIX}{key}"


def format_target(parts: Mapping[int, int]) -> str:
    """The link's Procore id: ``"<project id>:<direct cost id>"`` per part, comma-joined by project."""
    return ",".join(f"{project_id}:{parts[project_id]}" for project_id in sorted(parts))


def parse_target(target_id: str | None) -> dict[int, int]:
    """``{project id: direct cost id}`` from a link's Procore id (a single-project link has one pair)."""
    parts: dict[int, int] = {}
    for pair in (target_id or "").split(","):
        project_id, sep, direct_cost_id = pair.partition(":")
        if sep and project_id.isdigit() and direct_cost_id.isdigit():
            parts[int(project_id)] = int(direct_cost_id)
    return parts


def parts_of(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The parts a payload asks for: ``parts``, or the one-project shape (the payload is the part)."""
    if payload.get("removed"):
        return []
    if "parts" in payload:
        return [dict(part) for part in payload["parts"]]
    return [dict(payload)] if "project_id" in payload else []


def _amount(value: Any) -> float:
    """A money amount for a line body, whose schema says ``number`` (two decimals survive a float's repr)."""
    return float(money(value))


def line_body(wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The body of one payload line: ``origin_id``, ``cost_code_id``, ``amount`` and a description if any."""
    body = {
        "origin_id": wanted["origin_id"],
        "cost_code_id": int(wanted["cost_code_id"]),
        "amount": _amount(wanted["amount"]),
    }
    if wanted.get("description"):
        body["description"] = wanted["description"]
    return body


def lock_update(direct_cost_id: int | None, part: Mapping[str, Any]) -> dict[str, Any]:
    """The sync element that completes a part: header fields, status and ``origin_id`` (which locks it)."""
    update = {name: part.get(name) for name in HEADER_FIELDS}
    return update | {
        "id": direct_cost_id,
        "origin_id": part["origin_id"],
        "origin_data": mark(part["origin_id"]),
        "status": part["status"],
    }


class DirectCostWriter:
    """The steps that write, find, finish and remove the direct costs of one bill."""

    def __init__(self, procore: ProcoreClient) -> None:
        self.procore = procore

    def write_bill(self, item: WriteItem, *, recovering: bool) -> WriteResult:
        """Bring the bill's parts to the payload; ``recovering`` looks each unknown part up first.

        Lost answers (``OutcomeUnknownError`` and friends) propagate: the caller leaves the intent
        pending and the next run calls this again with ``recovering=True``.
        """
        known = parse_target(item.target_id)
        wanted = parts_of(item.payload)
        projects = {int(part["project_id"]) for part in wanted}
        created: list[tuple[int, int]] = []
        written: dict[int, int] = {}
        try:
            for project_id, direct_cost_id in known.items():
                if project_id not in projects:
                    self.remove(project_id, direct_cost_id)
            for part in wanted:
                project_id = int(part["project_id"])
                direct_cost_id, fresh = self._open(project_id, known.get(project_id), part, recovering=recovering)
                if fresh:
                    created.append((project_id, direct_cost_id))
                self._put_lines(project_id, direct_cost_id, part["line_items"], fresh=fresh)
                try:
                    self._lock(project_id, direct_cost_id, part)
                except PartRefused:
                    adopted = self._adopt(project_id, part, besides=direct_cost_id) if fresh else None
                    if adopted is None:
                        raise
                    # Procore already has the part under its origin_id (a link lost with its answer):
                    # that one is brought to the payload and the copy just made goes again.
                    self.remove(project_id, direct_cost_id)
                    created.remove((project_id, direct_cost_id))
                    direct_cost_id = adopted
                    self._put_lines(project_id, direct_cost_id, part["line_items"], fresh=False)
                    self._lock(project_id, direct_cost_id, part)
                written[project_id] = direct_cost_id
        except (FatalApiError, PartRefused) as exc:
            for project_id, direct_cost_id in created:
                self.remove(project_id, direct_cost_id)
            return WriteResult(item.source_id, ok=False, error=str(getattr(exc, "message", exc)))
        target = format_target(written) if written else f"removed:{item.source_id}"
        return WriteResult(item.source_id, ok=True, target_id=target)

    def remove(self, project_id: int, direct_cost_id: int) -> None:
        """Unlock and delete one direct cost; one already gone is fine (an earlier attempt, or a user)."""
        if self._unlock(project_id, direct_cost_id):
            with suppress(NotFoundError):
                self.procore.delete_direct_cost(project_id, direct_cost_id)

    # -- steps ----------------------------------------------------------------------------------

    def _open(
        self, project_id: int, direct_cost_id: int | None, part: Mapping[str, Any], *, recovering: bool
    ) -> tuple[int, bool]:
        """An unlocked direct cost for the part, and whether it was just created (so has no lines)."""
        if direct_cost_id is not None and self._unlock(project_id, direct_cost_id):
            return direct_cost_id, False
        if recovering and (found := self._find(project_id, part)) is not None:
            return found, False
        body = {name: part.get(name) for name in HEADER_FIELDS if part.get(name) is not None}
        body |= {"direct_cost_type": part["direct_cost_type"], "origin_data": mark(part["origin_id"])}
        created = self.procore.create_direct_cost(project_id, body)
        crash_point("direct-cost-after-header")  # recovery tests: a kill between the header and its lines
        if created.id is None:
            raise PartRefused("Procore created the direct cost but returned no id")
        return created.id, True

    def _find(self, project_id: int, part: Mapping[str, Any]) -> int | None:
        """The part's direct cost left by an earlier attempt (unlocked on return), or None."""
        for locked in self.procore.iter_direct_costs(project_id, origin_id=part["origin_id"]):
            if locked.id is not None and self._unlock(project_id, locked.id):
                return locked.id
        half = sorted(
            found.id
            for found in self.procore.iter_direct_costs(project_id, invoice_number=part["invoice_number"])
            if found.id is not None and not found.origin_id and found.origin_data == mark(part["origin_id"])
        )
        for extra in half[1:]:
            with suppress(NotFoundError):
                self.procore.delete_direct_cost(project_id, extra)
        return half[0] if half else None

    def _adopt(self, project_id: int, part: Mapping[str, Any], *, besides: int) -> int | None:
        """The part's locked direct cost Procore already holds under its ``origin_id`` (unlocked), or None."""
        for locked in self.procore.iter_direct_costs(project_id, origin_id=part["origin_id"]):
            if locked.id is not None and locked.id != besides and self._unlock(project_id, locked.id):
                return locked.id
        return None

    def _unlock(self, project_id: int, direct_cost_id: int) -> bool:
        """Clear ``origin_id`` so Procore lets the direct cost change; False when it no longer exists."""
        result = self.procore.sync_direct_costs(project_id, [{"id": direct_cost_id, "origin_id": None}])
        if any(entity.id == direct_cost_id for entity in result.entities):
            return True
        if any(isinstance(error.errors, dict) and "id" in error.errors for error in result.errors):
            return False  # "Entity with this ID not found": deleted meanwhile (by an earlier attempt, or a user)
        messages = [message for error in result.errors for message in error.messages]
        raise PartRefused("; ".join(messages) or "Procore returned no result for the direct cost")

    def _put_lines(
        self, project_id: int, direct_cost_id: int, lines: Sequence[Mapping[str, Any]], *, fresh: bool
    ) -> None:
        """Make the direct cost's lines exactly ``lines`` (matched by line ``origin_id``), reading first."""
        existing: dict[str | None, list[DirectCostLineItem]] = {}
        if not fresh:
            for line in self.procore.iter_direct_cost_lines(project_id, direct_cost_id):
                existing.setdefault(line.origin_id, []).append(line)
        for wanted in lines:
            body = line_body(wanted)
            found = existing.get(wanted["origin_id"]) or []
            have = found.pop(0) if found else None
            if have is None:
                self.procore.create_direct_cost_line(project_id, direct_cost_id, body)
                crash_point("direct-cost-after-line")  # recovery tests: a kill with the lines partly written
            elif have.id is not None and _differs(have, body):
                self.procore.update_direct_cost_line(project_id, direct_cost_id, have.id, body)
        for leftover in (line for group in existing.values() for line in group):
            if leftover.id is not None:
                with suppress(NotFoundError):
                    self.procore.delete_direct_cost_line(project_id, direct_cost_id, leftover.id)

    def _lock(self, project_id: int, direct_cost_id: int, part: Mapping[str, Any]) -> None:
        """Set the header fields, status and ``origin_id`` in one sync: the part is complete and locked."""
        result = self.procore.sync_direct_costs(project_id, [lock_update(direct_cost_id, part)])
        if not any(entity.id == direct_cost_id and entity.origin_id == part["origin_id"] for entity in result.entities):
            messages = [message for error in result.errors for message in error.messages]
            raise PartRefused("; ".join(messages) or "Procore returned no result for the direct cost")


def _differs(have: DirectCostLineItem, body: Mapping[str, Any]) -> bool:
    """Whether a line read back differs from the body Trestle would write."""
    have_code = have.cost_code.id if have.cost_code is not None else have.cost_code_id
    return (
        have_code != body["cost_code_id"]
        or money(have.amount) != Decimal(str(body["amount"])).quantize(Decimal("0.01"))
        or (have.description or None) != body.get("description")
    )
