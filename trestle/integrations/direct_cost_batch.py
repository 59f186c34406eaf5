"""New bills' direct costs written three calls a project, whatever their number, exactly once.

:class:`~trestle.integrations.direct_cost_writer.DirectCostWriter` writes one bill at a time: a
header POST, a POST per line and a locking sync per part. A night's new bills are written here
instead, in the same three steps but each step one sync for every part of the project:

1. headers: ``PATCH …/direct_costs/sync`` with neither ``id`` nor ``origin_id`` (each is a create,
   unlocked), each carrying its ``origin_data`` mark; the answer's marks say which header is whose;
2. lines: ``PATCH …/direct_costs/line_items/sync``, each line naming its ``direct_cost_id``, its
   cost code and the company cost type (the operation requires one beside a cost code), keyed by
   its ``origin_id`` ``<InvoiceID>:<cost code id>``, so a resend finds what the first send made;
3. lock: ``PATCH …/direct_costs/sync`` with ``{id, origin_id, header fields, status}`` per part.

A header sync matches nothing, so it is never resent: its lost answer (or a kill anywhere) leaves
the bills' intents pending, and recovery finishes each bill with
:meth:`DirectCostWriter.write_bill` (``recovering=True``), which finds a half-written header by its
mark before writing anything. A bill that Procore refuses at any step has the parts this attempt
created removed. A bill refused at its lines or its lock may be one Procore already holds under its
``origin_id`` (a link lost with its answer: the line sync then finds that direct cost's lines, or
the lock finds the ``origin_id`` taken); after that removal it is handed to the one-bill writer,
which looks for the part first and adopts it (or is refused again, with Procore's message).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from trestle.clients.errors import FatalApiError, OutcomeUnknownError, RetriableApiError, TransportError
from trestle.clients.procore import ProcoreClient
from trestle.clients.procore_base import SyncResult
from trestle.integrations.direct_cost_writer import (
    HEADER_FIELDS,
    DirectCostWriter,
    format_target,
    line_body,
    lock_update,
    mark,
    parts_of,
)
from trestle.tasks.engine import WriteItem, WriteResult
from trestle.tasks.faults import crash_point

LOST = (OutcomeUnknownError, RetriableApiError, TransportError)
logger = logging.getLogger(__name__)


def batchable(item: WriteItem) -> bool:
    """Whether the bill is new to Procore: no part written yet, at least one to write."""
    return not item.target_id and bool(parts_of(item.payload))


class _Part:
    """One part of one bill on its way through the three steps."""

    __slots__ = ("direct_cost_id", "item", "project_id", "spec")

    def __init__(self, item: WriteItem, spec: Mapping[str, Any]) -> None:
        self.item = item
        self.spec = spec
        self.project_id = int(spec["project_id"])
        self.direct_cost_id: int | None = None

    @property
    def mark(self) -> str:
        return mark(self.spec["origin_id"])


class BatchDirectCostWriter:
    """Write many new bills' direct costs with one sync per project and step."""

    def __init__(self, procore: ProcoreClient, one_by_one: DirectCostWriter, line_item_type_id: int) -> None:
        self.procore = procore
        self.one_by_one = one_by_one
        self.line_item_type_id = line_item_type_id

    @classmethod
    def with_cost_type(
        cls, procore: ProcoreClient, one_by_one: DirectCostWriter, code: str
    ) -> BatchDirectCostWriter | None:
        """A writer giving lines the company cost type ``code`` (one read); None, with a warning, if
        Procore has none such (new bills then go bill by bill, untyped); None without a read for ``''``."""
        code = code.strip()
        if not code:
            return None
        kinds = [kind for kind in procore.line_item_types() if kind.code == code]
        if not kinds:
            logger.warning(
                "Procore has no cost type with code %r (TRESTLE_SYNC_DIRECT_COST_COST_TYPE): new direct costs "
                "are written bill by bill, their lines without a cost type",
                code,
            )
            return None
        return cls(procore, one_by_one, kinds[0].id)

    def write_new_bills(self, items: Sequence[WriteItem]) -> list[WriteResult]:
        """Write every bill of ``items`` (each :func:`batchable`); one result per item, in order."""
        parts = [_Part(item, spec) for item in items for spec in parts_of(item.payload)]
        self.refused: dict[str, str] = {}
        self.lost: set[str] = set()
        self.adopt: set[str] = set()
        self._step(parts, self._headers, "direct-cost-after-header")
        self._step(parts, self._lines, "direct-cost-after-line")
        self._step(parts, self._locks, None)
        for part in parts:  # a refused bill leaves nothing half-written for a later create to duplicate
            if part.item.source_id in self.refused and part.direct_cost_id is not None:
                self._remove_quietly(part)
        return [self._result(item, [part for part in parts if part.item is item]) for item in items]

    # -- steps ----------------------------------------------------------------------------------

    def _step(self, parts: Sequence[_Part], send: Callable[[int, list[_Part]], None], crash_at: str | None) -> None:
        """Run one step project by project for the parts still going; a lost answer stops its bills."""
        by_project: dict[int, list[_Part]] = defaultdict(list)
        for part in parts:
            if self._going(part.item):
                by_project[part.project_id].append(part)
        for project_id, group in sorted(by_project.items()):
            group = [part for part in group if self._going(part.item)]
            if not group:
                continue
            try:
                send(project_id, group)
            except LOST:
                self.lost.update(part.item.source_id for part in group)
            except FatalApiError as exc:
                for part in group:
                    self.refused.setdefault(part.item.source_id, str(exc.message))
            if crash_at:
                crash_point(crash_at)  # recovery tests: a kill between the steps

    def _headers(self, project_id: int, group: list[_Part]) -> None:
        bodies = []
        for part in group:
            body = {name: part.spec.get(name) for name in HEADER_FIELDS if part.spec.get(name) is not None}
            bodies.append(body | {"direct_cost_type": part.spec["direct_cost_type"], "origin_data": part.mark})
        result = self.procore.create_direct_costs(project_id, bodies)
        created = {entity.origin_data: entity.id for entity in result.entities if entity.id is not None}
        for part in group:
            part.direct_cost_id = created.get(part.mark)
            if part.direct_cost_id is None:
                self._refuse(part, _messages(result, "origin_data", {part.mark}))

    def _lines(self, project_id: int, group: list[_Part]) -> None:
        bodies = []
        for part in group:
            for wanted in part.spec["line_items"]:
                body = line_body(wanted) | {
                    "direct_cost_id": part.direct_cost_id,
                    "line_item_type_id": self.line_item_type_id,
                }
                bodies.append(body)
        result = self.procore.sync_direct_cost_lines(project_id, bodies)
        written = {(entity.holder.id if entity.holder else None, entity.origin_id) for entity in result.entities}
        for part in group:
            keys = {line["origin_id"] for line in part.spec["line_items"]}
            if any((part.direct_cost_id, key) not in written for key in keys):
                # refused, or matched to lines Procore already holds on another direct cost (a link
                # lost with its answer): the one-bill writer looks for the part before it writes
                self._refuse(part, _messages(result, "origin_id", keys))
                self.adopt.add(part.item.source_id)

    def _locks(self, project_id: int, group: list[_Part]) -> None:
        updates = [lock_update(part.direct_cost_id, part.spec) for part in group if part.direct_cost_id is not None]
        result = self.procore.sync_direct_costs(project_id, updates)
        locked = {(entity.id, entity.origin_id) for entity in result.entities}
        for part in group:
            if (part.direct_cost_id, part.spec["origin_id"]) not in locked:
                self._refuse(part, _messages(result, "id", {part.direct_cost_id}))
                self.adopt.add(part.item.source_id)

    # -- outcome --------------------------------------------------------------------------------

    def _going(self, item: WriteItem) -> bool:
        return item.source_id not in self.refused and item.source_id not in self.lost

    def _refuse(self, part: _Part, message: str) -> None:
        self.refused.setdefault(part.item.source_id, message or "Procore returned no result for the direct cost")

    def _remove_quietly(self, part: _Part) -> None:
        """Remove a refused bill's part; a lost answer here leaves it to a rerun's recovery."""
        assert part.direct_cost_id is not None
        try:
            self.one_by_one.remove(part.project_id, part.direct_cost_id)
        except LOST:
            self.lost.add(part.item.source_id)

    def _result(self, item: WriteItem, parts: Iterable[_Part]) -> WriteResult:
        if item.source_id in self.lost:
            return WriteResult(item.source_id, ok=False, outcome_unknown=True)
        if item.source_id in self.adopt:
            # Procore may already hold the part under its origin_id: the one-bill writer looks first.
            try:
                return self.one_by_one.write_bill(item, recovering=True)
            except LOST:
                return WriteResult(item.source_id, ok=False, outcome_unknown=True)
        if item.source_id in self.refused:
            return WriteResult(item.source_id, ok=False, error=self.refused[item.source_id])
        written = {part.project_id: part.direct_cost_id for part in parts if part.direct_cost_id is not None}
        return WriteResult(item.source_id, ok=True, target_id=format_target(written))


def _messages(result: SyncResult[Any], echoed: str, values: AbstractSet[object]) -> str:
    """The sync's error messages for the elements whose echoed ``echoed`` attribute is one of ``values``."""
    return "; ".join(
        message for error in result.errors if getattr(error, echoed) in values for message in error.messages
    )
