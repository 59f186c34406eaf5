"""Progress claims: the lines of a claim's bill, its due date, and what mapping them reads.

- One line per cost code (items of the same cost code summed): amount = work completed this
  period + materials presently stored, account ``sync.bill_account_code``, tracking = the
  project's and the cost code's options, TaxType from ``Lookups.tax_type`` (the commitment
  line's Procore tax code through ``sync.tax_map``; commitments are only read when a map is set).
  LineAmountTypes from ``sync.tax_mode`` (Procore amounts exclude tax by default).
- Change order items: what a claim bills against approved commitment change orders comes in the
  same v1.1 ``items`` view (``item_type`` ``change_order_item``, next to ``contract_item``; the
  spec lists both), so it joins its cost code's line with no extra call —
  ``GET /requisitions/{id}/change_order_items`` would cost one call per claim for the same
  items. Their tax type is the default one: the tax code of a change order line is not read.
- Retainage: with ``sync.retainage_account_code`` set, lines are gross and one negative
  "Retainage held" line on that account (default tax type, no tracking) takes the retention
  off, so job costs show the full value of work done and the retention sits on its own account
  until released. Without it, lines are net of retainage: the bill then equals what is payable
  now, so accounts payable and later payments agree, and the retention is billed when a later
  claim releases it. Both ways the bill total is the same.

Part of :mod:`trestle.integrations.progress_claims` (a helper module: it declares no integration).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from trestle.clients.procore_commitments import CommitmentKind
from trestle.integrations.lookups import COST_CODE, VENDOR, Lookups, money
from trestle.integrations.recheck import STAMP, links_stamp
from trestle.models.procore import Commitment, CostCode, Requisition, RequisitionItem
from trestle.models.xero import PaymentTerm
from trestle.tasks.engine import Integration, Record

BILL, CREDIT_NOTE = "ACCPAY", "ACCPAYCREDIT"
RETAINAGE_DESCRIPTION = "Retainage held"
_COMMITMENT_KINDS: tuple[CommitmentKind, ...] = ("work_order", "purchase_order")


def due_date(bill_date: date, term: PaymentTerm | None, default_days: int) -> date:
    """When a bill dated ``bill_date`` falls due under the contact's bill terms (else ``default_days``)."""
    if term is None or term.day is None or term.type is None:
        return bill_date + timedelta(days=default_days)
    day = term.day
    if term.type == "DAYSAFTERBILLDATE":
        return bill_date + timedelta(days=day)
    month_end = bill_date.replace(day=calendar.monthrange(bill_date.year, bill_date.month)[1])
    if term.type == "DAYSAFTERBILLMONTH":
        return month_end + timedelta(days=day)
    if term.type == "OFCURRENTMONTH":
        return max(bill_date, bill_date.replace(day=min(day, month_end.day)))
    if term.type == "OFFOLLOWINGMONTH":
        first_next = month_end + timedelta(days=1)
        last_day = calendar.monthrange(first_next.year, first_next.month)[1]
        return first_next.replace(day=min(day, last_day))
    return bill_date + timedelta(days=default_days)


class ClaimLines(Integration):
    """Mapping a claim's items to bill lines, and loading what that reads (commitments, tax codes, terms)."""

    lookups: Lookups
    commitments: dict[int, dict[int, Commitment]]
    commitment_lines: dict[int, dict[int, int | None]]
    tax_codes: dict[int, str] | None
    payment_terms: dict[str, PaymentTerm | None]

    def _load_project(self, project_id: int, requisitions: list[Requisition]) -> None:
        self.lookups.project_cost_codes(project_id)
        if project_id not in self.commitments:
            self.commitments[project_id] = {
                commitment.id: commitment
                for kind in _COMMITMENT_KINDS
                for commitment in self.lookups.project_commitments(kind, project_id)
            }
        if not self.ctx.settings.sync.tax_map:
            return  # every line gets the default tax type: the commitments' lines are not needed
        if self.tax_codes is None:
            self.tax_codes = {code.id: code.code or "" for code in self.ctx.procore.tax_codes()}
        for commitment_id in {r.commitment_id for r in requisitions if r.commitment_id is not None}:
            if commitment_id in self.commitment_lines:
                continue
            kind: CommitmentKind = (
                "purchase_order" if "purchase" in self._commitment_type(project_id, commitment_id) else "work_order"
            )
            detail = self.ctx.procore.commitment(kind, project_id, commitment_id)
            self.commitment_lines[commitment_id] = {
                line.id: line.tax_code_id for line in detail.line_items or [] if line.id is not None
            }

    def _commitment_type(self, project_id: int, commitment_id: int) -> str:
        commitment = self.commitments.get(project_id, {}).get(commitment_id)
        return (commitment.type or "").casefold() if commitment else ""

    def _load_payment_terms(self, requisitions: list[Requisition]) -> None:
        """Bill terms of the claims' contacts; the first time, of every linked vendor's contact at
        once (one read for the whole run, shared with the night, instead of one per page)."""
        contacts = {str(c) for r in requisitions if (c := self.lookups.contact_for_vendor(r.vendor_id))}
        if not contacts - set(self.payment_terms):
            return
        linked = {link.xero_id for link in self.lookups.links(VENDOR)}
        wanted = contacts | (linked if not self.payment_terms else set())
        found = self.lookups.contacts(wanted)
        for contact_id in wanted:
            contact = found.get(contact_id)
            self.payment_terms[contact_id] = contact.payment_terms.bills if contact and contact.payment_terms else None

    def _commitment_number(self, requisition: Requisition) -> str:
        commitment = self.commitments.get(requisition.project_id or 0, {}).get(requisition.commitment_id or 0)
        return (commitment.number if commitment else None) or f"C{requisition.commitment_id}"

    def _lines(self, record: Record, requisition: Requisition) -> list[dict[str, Any]]:
        """One line per (cost code, tax type), plus the retainage line when that account is set."""
        project_id = requisition.project_id or 0
        codes = self.lookups.project_cost_codes(project_id)
        project_option = self.lookups.project_option(project_id)
        sync = self.ctx.settings.sync
        keep_gross = bool(sync.retainage_account_code)
        grouped: dict[tuple[int, str | None], Decimal] = {}
        unlinked: list[str] = []
        retained = Decimal("0.00")
        for item in requisition.items or []:
            code = codes.get(item.cost_code_id or 0)
            option = self.lookups.cost_code_option(code.standard_cost_code_id) if code else None
            if code is None or option is None:
                unlinked.append(code.full_code or code.name or str(code.id) if code else f"#{item.cost_code_id}")
                continue
            gross, retainage = _gross_and_retainage(item)
            retained += retainage
            key = (code.id, self.lookups.tax_type(self._tax_code(requisition, item)))
            grouped[key] = grouped.get(key, Decimal("0.00")) + (gross if keep_gross else gross - retainage)
        if unlinked:
            record.flag(
                "progress_claim.cost_code_not_linked",
                "These cost codes have no Xero 'Cost Code' option (not on the standard list, or not linked): "
                + ", ".join(sorted(set(unlinked))),
                cost_codes=sorted(set(unlinked)),
                **{STAMP: links_stamp(self.lookups.links(COST_CODE))},
            )
            return []
        lines = [
            self._line(codes[code_id], amount, tax_type, requisition, project_option, sync.bill_account_code, record)
            for (code_id, tax_type), amount in sorted(grouped.items(), key=lambda kv: codes[kv[0][0]].full_code or "")
        ]
        if keep_gross and retained:
            retainage_line: dict[str, Any] = {
                "Description": RETAINAGE_DESCRIPTION,
                "Quantity": Decimal(1),
                "UnitAmount": -money(retained),
                "AccountCode": sync.retainage_account_code,
            }
            if (tax_type := self.lookups.tax_type(None)) is not None:
                retainage_line["TaxType"] = tax_type
            lines.append(retainage_line)
        return lines

    def _line(
        self,
        code: CostCode,
        amount: Decimal,
        tax_type: str | None,
        requisition: Requisition,
        project_option: str | None,
        account_code: str,
        record: Record,
    ) -> dict[str, Any]:
        standard_option = self.lookups.cost_code_option(code.standard_cost_code_id)
        line: dict[str, Any] = {
            "Description": f"{code.full_code or code.code or ''} {code.name or ''}".strip()
            + f" – progress claim {requisition.number} on {self._commitment_number(requisition)}",
            "Quantity": Decimal(1),
            "UnitAmount": money(amount),
            "AccountCode": account_code,
            "Tracking": self.lookups.tracking(project_option, standard_option),
        }
        if tax_type is not None:
            line["TaxType"] = tax_type
        return line

    def _tax_code(self, requisition: Requisition, item: RequisitionItem) -> str | None:
        if not self.tax_codes:
            return None
        tax_code_id = self.commitment_lines.get(requisition.commitment_id or 0, {}).get(item.line_item_id or 0)
        return self.tax_codes.get(tax_code_id) if tax_code_id is not None else None


def _gross_and_retainage(item: RequisitionItem) -> tuple[Decimal, Decimal]:
    """What an item bills this period (work + materials stored) and the retainage held on it."""
    gross = money(item.work_completed_this_period) + money(item.materials_presently_stored)
    held = [item.work_completed_retainage_retained_this_period, item.materials_stored_retainage_currently_retained]
    if any(value is not None for value in held):
        return gross, money(held[0]) + money(held[1])
    if item.net_amount is not None:
        return gross, gross - money(item.net_amount)
    return gross, Decimal("0.00")
