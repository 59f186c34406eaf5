"""What integrations need to know about each other's links, loaded once per run.

Commitments need the vendor's Xero contact and the project's and cost codes' tracking
options; payments need the bill a Procore invoice became; direct invoices go the other way.
:class:`Lookups` answers those from the link store (and, for a project's cost codes, from
Procore), caching per run (one instance per run, :meth:`Lookups.of`) so a nightly run reads each
table once; :meth:`Lookups.refresh` forgets links when an integration wrote some. On a dry run
the links the run would have made so far (``ctx.planned``) are laid over the stored ones.

What no integration changes during a night — a project's cost codes, its subcontractor invoices,
the Xero contacts' payment terms — lives in ``ctx.shared``, which the nightly's integrations share (one read per night).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from trestle.clients.procore_commitments import CommitmentKind
from trestle.clients.xero_batch import BATCH_SIZE
from trestle.models.links import LinkRow
from trestle.models.procore import Commitment, CostCode, Requisition
from trestle.models.xero import Contact

if TYPE_CHECKING:
    from trestle.tasks.context import RunContext

# link entities, one per integration (see each integration's ``entity``)
VENDOR, PROJECT, COST_CODE = "vendor", "project", "cost_code"
COMMITMENT, PROGRESS_CLAIM, PAYMENT, DIRECT_COST = "commitment", "progress_claim", "payment", "direct_cost"

CENT = Decimal("0.01")


def money(value: Decimal | float | str | int | None) -> Decimal:
    """A Decimal rounded half-up to the cent (None counts as zero)."""
    if value is None:
        return Decimal("0.00")
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


class Lookups:
    """Cross-integration lookups for one run."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        # Links by entity, and indexed by either side; dropped by refresh() when an integration wrote some.
        self._links: dict[str, list[LinkRow]] = {}
        self._by_procore: dict[str, dict[str, LinkRow]] = {}
        self._by_xero: dict[str, dict[str, LinkRow]] = {}
        self._project_cost_codes: dict[int, dict[int, CostCode]] = ctx.shared.setdefault("project_cost_codes", {})
        self._contacts: dict[str, Contact | None] = ctx.shared.setdefault("contacts", {})
        self._commitments: dict[tuple[str, int], list[Commitment]] = ctx.shared.setdefault("commitments", {})
        self._requisitions: dict[int, list[Requisition]] = ctx.shared.setdefault("requisitions", {})

    @classmethod
    def of(cls, ctx: RunContext) -> Lookups:
        """The run's shared instance."""
        lookups = ctx.cache.get("lookups")
        if not isinstance(lookups, Lookups):
            lookups = ctx.cache["lookups"] = cls(ctx)
        return lookups

    def refresh(self, entity: str | None = None) -> None:
        """Forget the cached links of ``entity`` (all entities when None) so the next read sees new ones.

        The pipeline calls it after each integration, so the next one in the run sees the links
        this one wrote.
        """
        for cache in (self._links, self._by_procore, self._by_xero):
            if entity is None:
                cache.clear()
            else:
                cache.pop(entity, None)

    def links(self, entity: str) -> list[LinkRow]:
        if entity not in self._links:
            stored = self.ctx.store.links(entity)
            planned = self.ctx.planned
            self._links[entity] = planned.over(entity, stored) if planned is not None else stored
        return self._links[entity]

    def _procore_index(self, entity: str) -> dict[str, LinkRow]:
        if entity not in self._by_procore:
            self._by_procore[entity] = {link.procore_id: link for link in self.links(entity)}
        return self._by_procore[entity]

    def _xero_index(self, entity: str) -> dict[str, LinkRow]:
        if entity not in self._by_xero:
            self._by_xero[entity] = {link.xero_id: link for link in self.links(entity)}
        return self._by_xero[entity]

    # ---------------------------------------------------------------- vendors
    def contact_for_vendor(self, vendor_id: int | str | None) -> str | None:
        """The Xero ContactID linked to a Procore vendor (None if the vendor is not integrated)."""
        link = self._procore_index(VENDOR).get(str(vendor_id)) if vendor_id is not None else None
        return link.xero_id if link else None

    def remember_contacts(self, contacts: Sequence[Contact]) -> None:
        """Keep contacts read anyway (the vendors' read) for :meth:`contacts` later in the night."""
        for contact in contacts:
            if contact.contact_id:
                self._contacts[contact.contact_id] = contact

    def contacts(self, contact_ids: Iterable[str]) -> dict[str, Contact]:
        """Xero contacts by id, archived ones included, read at most once per night.

        The ones not seen yet are read by id, 50 per call, or, when that would take more than
        one call, in one paged read of every contact (1,000 a page): fewer calls either way.
        """
        wanted = sorted(set(contact_ids))
        missing = [contact_id for contact_id in wanted if contact_id not in self._contacts]
        if missing:
            xero = self.ctx.xero
            every = len(missing) > BATCH_SIZE
            read = xero.iter_contacts(include_archived=True, ids=None if every else missing)
            for found in read:
                if found.contact_id:
                    self._contacts[found.contact_id] = found
            for contact_id in missing:
                self._contacts.setdefault(contact_id, None)
        known = {contact_id: self._contacts.get(contact_id) for contact_id in wanted}
        return {contact_id: contact for contact_id, contact in known.items() if contact is not None}

    def vendor_for_contact(self, contact_id: str | None) -> int | None:
        """The Procore vendor id linked to a Xero contact."""
        link = self._xero_index(VENDOR).get(contact_id or "")
        return int(link.procore_id) if link else None

    # --------------------------------------------------------------- projects
    def project_option(self, project_id: int | str | None) -> str | None:
        """The Xero "Project" tracking option name of a linked Procore project."""
        link = self._procore_index(PROJECT).get(str(project_id)) if project_id is not None else None
        return (link.last_payload or {}).get("Name") if link else None

    def project_for_option(self, option_id: str | None = None, *, name: str | None = None) -> int | None:
        """The Procore project linked to a "Project" option, by option id or name."""
        if option_id:
            link = self._xero_index(PROJECT).get(option_id)
            if link:
                return int(link.procore_id)
        if name:
            wanted = name.casefold()
            for link in self.links(PROJECT):
                if str((link.last_payload or {}).get("Name", "")).casefold() == wanted:
                    return int(link.procore_id)
        return None

    def integrated_project_ids(self) -> list[int]:
        """Procore projects linked to a Xero option (limited to the run's projects, if set)."""
        ids = sorted(int(link.procore_id) for link in self.links(PROJECT))
        allowed = self.ctx.options.project_ids
        return [project_id for project_id in ids if allowed is None or project_id in allowed]

    # ------------------------------------------------------------- cost codes
    def cost_code_option(self, standard_cost_code_id: int | str | None) -> str | None:
        """The Xero "Cost Code" option name of a linked standard cost code."""
        if standard_cost_code_id is None:
            return None
        link = self._procore_index(COST_CODE).get(str(standard_cost_code_id))
        return (link.last_payload or {}).get("Name") if link else None

    def standard_code_for_option(self, name: str | None) -> int | None:
        """The standard cost code linked to a "Cost Code" option name."""
        if not name:
            return None
        wanted = name.casefold()
        for link in self.links(COST_CODE):
            if str((link.last_payload or {}).get("Name", "")).casefold() == wanted:
                return int(link.procore_id)
        return None

    def project_cost_codes(self, project_id: int) -> dict[int, CostCode]:
        """A project's cost codes by id (one Procore call per project per run)."""
        if project_id not in self._project_cost_codes:
            codes = self.ctx.procore.iter_project_cost_codes(project_id)
            self._project_cost_codes[project_id] = {code.id: code for code in codes if code.id is not None}
        return self._project_cost_codes[project_id]

    def remember_commitments(self, kind: CommitmentKind, project_id: int, listed: Sequence[Commitment]) -> None:
        """Keep a project's *complete* list of one kind of commitment (a read since the start,
        not an incremental one) for :meth:`project_commitments` later in the night."""
        self._commitments[(kind, project_id)] = list(listed)

    def project_commitments(self, kind: CommitmentKind, project_id: int) -> list[Commitment]:
        """Every commitment of ``kind`` in a project: the one the commitments integration read
        tonight, else one list read (kept for the night)."""
        if (kind, project_id) not in self._commitments:
            self._commitments[(kind, project_id)] = list(self.ctx.procore.iter_commitments(kind, project_id))
        return self._commitments[(kind, project_id)]

    def project_requisitions(self, project_id: int) -> list[Requisition]:
        """Every subcontractor invoice of a project, attachments and items included: one paged read
        per project per night, shared by progress claims (its changed claims, its re-checks, its
        deletion check) and claim attachments (which must see every claim: Procore does not say
        whether a new file moves a claim's ``updated_at``). At 1,000 a page, a project's whole list
        is one call, the same as a list of its changed claims."""
        if project_id not in self._requisitions:
            self._requisitions[project_id] = list(self.ctx.procore.iter_requisitions(project_id))
        return self._requisitions[project_id]

    def project_cost_code_for_standard(self, project_id: int, standard_cost_code_id: int) -> CostCode | None:
        """The project's cost code that uses a given standard cost code."""
        for code in self.project_cost_codes(project_id).values():
            if code.standard_cost_code_id == standard_cost_code_id:
                return code
        return None

    # ------------------------------------------------------- documents written
    def xero_document_for(self, entity: str, procore_id: int | str) -> str | None:
        """The Xero id a Procore record of ``entity`` was written as (PO, bill, credit note)."""
        link = self._procore_index(entity).get(str(procore_id))
        return link.xero_id if link else None

    def procore_record_for(self, entity: str, xero_id: str) -> LinkRow | None:
        """The link whose Xero side is ``xero_id`` (e.g. which requisition a bill came from)."""
        return self._xero_index(entity).get(xero_id)

    # -------------------------------------------------------------------- tax
    def tax_type(self, procore_tax_code: str | None) -> str | None:
        """The Xero TaxType for a line: mapped Procore tax code, else the default; None for no tax."""
        sync = self.ctx.settings.sync
        if sync.tax_mode == "none":
            return None
        if procore_tax_code and procore_tax_code in sync.tax_map:
            return sync.tax_map[procore_tax_code]
        return sync.default_tax_type

    def line_amount_types(self) -> str:
        """Xero LineAmountTypes for documents Trestle writes, from ``sync.tax_mode``."""
        return {"exclusive": "Exclusive", "inclusive": "Inclusive", "none": "NoTax"}[self.ctx.settings.sync.tax_mode]

    def tracking(self, project_option: str | None, cost_code_option: str | None) -> list[dict[str, Any]]:
        """Xero line tracking by category and option *names* (IDs alone are unreliable in Xero)."""
        sync = self.ctx.settings.sync
        tracking = []
        if project_option:
            tracking.append({"Name": sync.project_category, "Option": project_option})
        if cost_code_option:
            tracking.append({"Name": sync.cost_code_category, "Option": cost_code_option})
        return tracking
