"""Cost codes: the Procore standard cost code list → options of the Xero "Cost Code" category.

Only codes of the company's standard list become options (``sync.cost_code_list`` names it;
by default the ERP list, else the only or first list). The option is named
``"<full code> <name>"`` (e.g. "03-300 Cast-in-Place Concrete"), cut to 100 characters; an
existing option of that name is linked instead of created. Codes a project team added outside
the standard list are never sent: wherever one is used (a commitment line, a claim, a direct
cost), that record gets a review issue naming the code.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from trestle.integrations.tracking import TrackingOptionIntegration
from trestle.models.procore import StandardCostCode, StandardCostCodeList
from trestle.naming import cost_code_option_name
from trestle.tasks.engine import Blocked, Page, Record


class CostCodesIntegration(TrackingOptionIntegration):
    name = "cost_codes"
    title = "Cost codes"
    entity = "cost_code"
    category_setting = "cost_code_category"
    issue_fixes = {
        "cost_codes.category_missing": "Create the 'Cost Code' tracking category in Xero, or set "
        "TRESTLE_SYNC_COST_CODE_CATEGORY to the category you use.",
        "cost_codes.list_missing": "Create the standard cost code list in Procore (Company Admin → Cost Codes), "
        "or set TRESTLE_SYNC_COST_CODE_LIST to its name.",
        "cost_code.option_limit": "Archive unused cost code options in Xero; the next run adds the new ones.",
        "cost_code.write_rejected": "Correct the cost code in Procore as Xero's message says.",
    }
    issue_meanings = {
        "cost_codes.category_missing": "The Xero tracking category for cost codes does not exist, so no cost codes "
        "were sent.",
        "cost_codes.list_missing": "Procore has no standard cost code list of the expected name.",
        "cost_code.no_code": "The cost code has no code.",
        "cost_code.option_limit": "Xero allows 100 active options per tracking category and they are all used.",
        "cost_code.write_rejected": "Xero refused the cost code's tracking option; its message says why.",
    }

    def prepare(self) -> None:
        self.prepare_category()
        self.code_list = self._choose_list(self.ctx.procore.standard_cost_code_lists())
        self.codes = {
            str(code.id): code
            for code in self.ctx.procore.iter_standard_cost_codes(self.code_list.id)
            if code.id is not None
        }

    def _choose_list(self, lists: list[StandardCostCodeList]) -> StandardCostCodeList:
        wanted = self.ctx.settings.sync.cost_code_list
        if wanted:
            chosen = next((item for item in lists if (item.name or "").casefold() == wanted.casefold()), None)
        else:
            chosen = next((item for item in lists if item.is_erp_list), None) or (lists[0] if lists else None)
        if chosen is None:
            raise Blocked(
                "cost_codes.list_missing",
                f"Procore has no standard cost code list{f' named {wanted!r}' if wanted else ''}, so no cost "
                "codes were sent.",
                fix=self.issue_fixes["cost_codes.list_missing"],
            )
        return chosen

    def expected_total(self) -> int | None:
        return len(self.codes)

    def _record(self, code: StandardCostCode) -> Record:
        return Record(
            str(code.id),
            f"{code.full_code or code.code} {code.name or ''}".strip(),
            code,
            url=self.ctx.links.procore_cost_codes(),
        )

    def fetch(self, since: datetime | None) -> Iterator[Page]:
        # Standard codes carry no update time in Procore's list, and the list is one call:
        # every run compares every code (the fingerprint makes unchanged ones free).
        yield Page([self._record(code) for code in self.codes.values()])

    def fetch_by_ids(self, ids: Sequence[str]) -> list[Record]:
        return [self._record(self.codes[i]) for i in ids if i in self.codes]

    def validate(self, record: Record) -> None:
        code: StandardCostCode = record.data
        if not (code.full_code or code.code):
            record.flag("cost_code.no_code", f"Standard cost code '{code.name}' has no code.")

    def match(self, records: list[Record]) -> None:
        for record in records:
            code: StandardCostCode = record.data
            option = self.by_name.get(
                cost_code_option_name(code.full_code or code.code or "", code.name or "").casefold()
            )
            if option is not None and option.tracking_option_id not in self.taken_targets:
                record.target_id, record.target, record.match_method = option.tracking_option_id, option, "name"

    def map(self, record: Record) -> dict[str, Any]:
        code: StandardCostCode = record.data
        return {"Name": cost_code_option_name(code.full_code or code.code or "", (code.name or "").strip())}
