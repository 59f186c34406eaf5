"""Procore lines → Xero document lines: amounts, quantities, tax types and tracking.

Shared by every integration that writes a Xero purchase order, bill or credit note from Procore
lines (commitments, progress claims). The rules, once:

- Amounts are Decimal rounded half-up to the cent (:func:`~trestle.integrations.lookups.money`).
- Quantity × unit price is kept when the Procore line is unit-priced and the two multiply to the
  line's amount at cent precision (with values Xero can hold: unit price to two decimals,
  quantity to four); otherwise the line is sent as quantity 1 at its amount, so the Xero total
  always equals Procore's.
- A line's tracking is the project's "Project" option and the "Cost Code" option of the standard
  cost code its project cost code uses, both by name. A line whose cost code is missing, not
  based on a standard code, or whose standard code has no Xero option, is an invalid cost code:
  the caller skips the whole document with a review issue rather than send it half tracked.
- TaxType comes from :meth:`Lookups.tax_type` with the Procore tax code (its ``code`` text, looked
  up once per run from the company's tax codes) and is omitted under ``tax_mode = "none"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trestle.integrations.lookups import Lookups, money

if TYPE_CHECKING:
    from trestle.tasks.context import RunContext

REFERENCE_LIMIT = 255
"""Longest Reference Trestle writes (Xero's documented limit for document references)."""
DESCRIPTION_LIMIT = 4000
QUANTITY_PLACES = Decimal("0.0001")
"""Xero keeps line quantities to four decimals."""
_TAX_CODES_CACHE = "procore-tax-codes"


@dataclass(frozen=True)
class SourceLine:
    """The parts of a Procore line (commitment SOV, invoice item, direct cost line) a Xero line needs."""

    description: str | None
    amount: Decimal | None
    cost_code_id: int | None
    quantity: Decimal | None = None
    unit_cost: Decimal | None = None
    tax_code_id: int | None = None


@dataclass(frozen=True)
class LineProblem:
    """Why one line cannot carry its cost code to Xero (1-based ``line`` as users count)."""

    line: int
    description: str
    cost_code: str | None
    reason: str

    def sentence(self) -> str:
        code = f"cost code {self.cost_code}" if self.cost_code else "no cost code"
        return f"line {self.line} ('{self.description}', {code}): {self.reason}"


def quantity_and_unit_amount(
    amount: Decimal | None, quantity: Decimal | None, unit_cost: Decimal | None
) -> tuple[Decimal, Decimal]:
    """Xero Quantity and UnitAmount for a Procore line whose authoritative total is ``amount``."""
    total = money(amount)
    if quantity and unit_cost is not None:
        qty, unit = Decimal(str(quantity)), Decimal(str(unit_cost))
        fits_xero = unit == money(unit) and qty == qty.quantize(QUANTITY_PLACES)
        if fits_xero and money(qty * unit) == total:
            return qty, money(unit)
    return Decimal(1), total


def reference(*parts: str | None, limit: int = REFERENCE_LIMIT) -> str:
    """Non-empty parts joined with " - ", cut to ``limit`` characters."""
    text = " - ".join(part.strip() for part in parts if part and part.strip())
    return text[:limit]


class XeroLineMapper:
    """Maps Procore lines to Xero lines for one run (lookups and tax codes are cached per run)."""

    def __init__(self, ctx: RunContext, *, account_code: str) -> None:
        self.ctx = ctx
        self.lookups = Lookups.of(ctx)
        self.account_code = account_code

    def map_lines(self, project_id: int, lines: Sequence[SourceLine]) -> tuple[list[dict[str, Any]], list[LineProblem]]:
        """Xero ``LineItems`` for ``lines`` of a project, and every line that cannot be tracked."""
        project_option = self.lookups.project_option(project_id)
        mapped: list[dict[str, Any]] = []
        problems: list[LineProblem] = []
        for number, line in enumerate(lines, start=1):
            option, problem = self._cost_code_option(project_id, number, line)
            if problem is not None:
                problems.append(problem)
                continue
            quantity, unit_amount = quantity_and_unit_amount(line.amount, line.quantity, line.unit_cost)
            item: dict[str, Any] = {
                "Description": self._description(line, option),
                "Quantity": quantity,
                "UnitAmount": unit_amount,
                "AccountCode": self.account_code,
                "Tracking": self.lookups.tracking(project_option, option),
            }
            tax_type = self.lookups.tax_type(self.procore_tax_code(line.tax_code_id))
            if tax_type:
                item["TaxType"] = tax_type
            mapped.append(item)
        return mapped, problems

    def _cost_code_option(
        self, project_id: int, number: int, line: SourceLine
    ) -> tuple[str | None, LineProblem | None]:
        description = (line.description or "").strip() or "(no description)"
        if line.cost_code_id is None:
            return None, LineProblem(number, description, None, "the line has no cost code")
        code = self.lookups.project_cost_codes(project_id).get(line.cost_code_id)
        if code is None:
            return None, LineProblem(
                number, description, str(line.cost_code_id), "the cost code is not one of the project's cost codes"
            )
        label = " ".join(part for part in (code.full_code or code.code, code.name) if part) or str(code.id)
        if code.standard_cost_code_id is None:
            return None, LineProblem(number, description, label, "it is not on the company's standard cost code list")
        option = self.lookups.cost_code_option(code.standard_cost_code_id)
        if option is None:
            return None, LineProblem(
                number, description, label, 'its standard cost code has no Xero "Cost Code" tracking option'
            )
        return option, None

    @staticmethod
    def _description(line: SourceLine, cost_code_option: str | None) -> str:
        text = (line.description or "").strip() or (cost_code_option or "").strip() or "(no description)"
        return text[:DESCRIPTION_LIMIT]

    def procore_tax_code(self, tax_code_id: int | None) -> str | None:
        """The Procore tax code text ("GST") of a line's ``tax_code_id`` (one call per run, on first use)."""
        if tax_code_id is None:
            return None
        codes: dict[int, str] | None = self.ctx.cache.get(_TAX_CODES_CACHE)
        if codes is None:
            codes = {code.id: code.code or "" for code in self.ctx.procore.tax_codes()}
            self.ctx.cache[_TAX_CODES_CACHE] = codes
        return codes.get(tax_code_id) or None
