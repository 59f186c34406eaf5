"""Direct invoices: a bill's project and cost code options, and the direct cost lines they make.

Lines: "Cost Code" option → linked standard code → the project's code; a part's lines of one
code are added up (``origin_id`` = ``<InvoiceID>:<cost code id>``). A project line with no cost
code option, an unlinked option or a code the project does not use is an issue (a default code
would misstate the budget); the whole bill waits until it is fixed, as for an unlinked project.
Amount = LineAmount without tax (Exclusive and NoTax as is, Inclusive less the line's
TaxAmount), rounded half-up to the cent: job cost is net of recoverable tax.

Part of :mod:`trestle.integrations.direct_invoices` (a helper module: it declares no integration).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trestle.integrations.lookups import COST_CODE, Lookups, money
from trestle.integrations.recheck import STAMP, links_stamp
from trestle.models.xero import Invoice, LineItem
from trestle.tasks.engine import Integration, Record


def net_line_amount(line: LineItem, line_amount_types: str | None) -> Decimal:
    """The line's amount without tax, to the cent (Inclusive lines carry their tax inside)."""
    amount = money(line.line_amount)
    if (line_amount_types or "Exclusive") == "Inclusive":
        amount -= money(line.tax_amount)
    return amount


class BillLines(Integration):
    """Reading a bill's tracking options and mapping its project lines to direct cost lines."""

    lookups: Lookups
    project_category: str
    cost_code_category: str

    def _tracking(self, line: LineItem, category: str) -> tuple[str | None, str | None] | None:
        """``(option id, option name)`` of the line's option in ``category`` (casefolded name)."""
        for tracking in line.tracking or []:
            if (tracking.name or "").casefold() == category and (tracking.option or tracking.tracking_option_id):
                return tracking.tracking_option_id, tracking.option
        return None

    def _project_options(self, invoice: Invoice) -> list[tuple[str | None, str | None]]:
        options: dict[str, tuple[str | None, str | None]] = {}
        for line in invoice.line_items or []:
            if (found := self._tracking(line, self.project_category)) is not None:
                options.setdefault((found[1] or found[0] or "").casefold(), found)
        return list(options.values())

    def _lines_by_project(self, record: Record, invoice: Invoice) -> dict[int, list[dict[str, Any]]]:
        """Each linked project's lines: one per project cost code, net of tax and added up; flags bad lines."""
        by_project: dict[int, dict[int, dict[str, Any]]] = {}
        for number, line in enumerate(invoice.line_items or [], start=1):
            project = self._tracking(line, self.project_category)
            if project is None:
                continue  # overhead: not a job cost of any project
            project_id = self.lookups.project_for_option(project[0], name=project[1])
            if project_id is None:  # validate() has flagged it; the record is skipped
                continue
            code_id = self._project_code(record, line, number, project_id)
            if code_id is None:
                continue
            entry = by_project.setdefault(project_id, {}).setdefault(
                code_id,
                {
                    "origin_id": f"{record.id}:{code_id}",
                    "cost_code_id": code_id,
                    "amount": Decimal("0.00"),
                    "texts": [],
                },
            )
            entry["amount"] += net_line_amount(line, invoice.line_amount_types)
            if line.description and line.description not in entry["texts"]:
                entry["texts"].append(line.description)
        return {
            project_id: [
                {
                    "origin_id": entry["origin_id"],
                    "cost_code_id": entry["cost_code_id"],
                    "amount": money(entry["amount"]),
                    "description": "; ".join(entry["texts"])[:255] or None,
                }
                for entry in sorted(codes.values(), key=lambda entry: entry["cost_code_id"])
            ]
            for project_id, codes in by_project.items()
        }

    def _project_code(self, record: Record, line: LineItem, number: int, project_id: int) -> int | None:
        """The project's cost code id for a line's "Cost Code" option, or None (flagged)."""
        where = f"line {number} ('{line.description or ''}')"
        found = self._tracking(line, self.cost_code_category)
        option = found[1] if found else None
        if not option:
            record.flag("direct_cost.no_cost_code", f"{where} has no Cost Code option.", line=number)
            return None
        standard_id = self.lookups.standard_code_for_option(option)
        if standard_id is None:
            record.flag(
                "direct_cost.cost_code_not_linked",
                f"{where}: the Cost Code option '{option}' is not a Procore standard cost code.",
                line=number,
                option=option,
                **{STAMP: links_stamp(self.lookups.links(COST_CODE))},
            )
            return None
        code = self.lookups.project_cost_code_for_standard(project_id, standard_id)
        if code is None or code.id is None:
            record.flag(
                "direct_cost.cost_code_not_in_project",
                f"{where}: the project does not use cost code '{option}'.",
                line=number,
                option=option,
            )
            return None
        return code.id
