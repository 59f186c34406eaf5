"""Procore records → options of one Xero tracking category (shared by projects and cost codes).

Xero creates options one request at a time (``PUT /TrackingCategories/{id}/Options``), so
writes go one per call, each with its own idempotency key. Xero allows 100 active options per
category: a create that would pass the limit is not sent and becomes a review issue instead.
"""

from __future__ import annotations

from typing import Any, ClassVar

from trestle.clients.errors import FatalApiError
from trestle.models.xero import TrackingCategory, TrackingOption
from trestle.tasks.engine import Blocked, Integration, Record, WriteItem, WriteResult

MAX_ACTIVE_OPTIONS = 100


class TrackingOptionIntegration(Integration):
    """Base for integrations whose target is an option of a Xero tracking category."""

    source_system = "procore"
    target_system = "xero"
    write_batch_size = 25
    category_setting: ClassVar[str]  # the SyncSettings field naming the category

    @property
    def category_name(self) -> str:
        return str(getattr(self.ctx.settings.sync, self.category_setting))

    def prepare_category(self) -> TrackingCategory:
        """Find the ACTIVE category by name and index its options (raises Blocked when missing)."""
        wanted = self.category_name.casefold()
        categories = self._categories(wanted)
        category = next(
            (c for c in categories if (c.name or "").casefold() == wanted and (c.status or "ACTIVE") == "ACTIVE"),
            None,
        )
        if category is None or not category.tracking_category_id:
            raise Blocked(
                f"{self.name}.category_missing",
                f"The Xero tracking category '{self.category_name}' does not exist (or is archived), so nothing "
                f"was sent.",
                fix=f"Create the tracking category '{self.category_name}' in Xero (Accounting → Advanced → "
                f"Tracking categories), or set TRESTLE_SYNC_{self.category_setting.upper()} to the one you use.",
            )
        self.category = category
        self.options: dict[str, TrackingOption] = {
            option.tracking_option_id: option for option in category.options or [] if option.tracking_option_id
        }
        self.by_name = {
            (option.name or "").casefold(): option for option in self.options.values() if option.status != "DELETED"
        }
        self.active_count = sum(1 for option in self.options.values() if (option.status or "ACTIVE") == "ACTIVE")
        return category

    def _categories(self, wanted: str) -> list[TrackingCategory]:
        """The tracking categories, read once a night: each integration writes options of its own
        category only, so the read serves the next one unless it wants a category already taken."""
        shared = self.ctx.shared.setdefault("tracking_categories", {})
        taken: set[str] = shared.setdefault("taken", set())
        if "read" not in shared or wanted in taken:
            shared["read"] = self.ctx.xero.tracking_categories()
            taken.clear()
        taken.add(wanted)
        categories: list[TrackingCategory] = shared["read"]
        return categories

    def current_payload(self, record: Record) -> dict[str, Any] | None:
        option = self.options.get(record.target_id or "")
        return {"Name": option.name} if option is not None else None

    def write(self, items: list[WriteItem], batch_key: str) -> list[WriteResult]:
        results = []
        category_id = self.category.tracking_category_id or ""
        for item in items:
            name = item.payload["Name"]
            try:
                if item.operation == "update" and item.target_id:
                    option = self.ctx.xero.update_tracking_option(
                        category_id, item.target_id, name=name, idempotency_key=item.idempotency_key
                    )
                else:
                    if self.active_count >= MAX_ACTIVE_OPTIONS:
                        results.append(self.option_limit_result(item))
                        continue
                    option = self.ctx.xero.create_tracking_option(
                        category_id, name, idempotency_key=item.idempotency_key
                    )
                    self.active_count += 1
            except FatalApiError as exc:
                results.append(WriteResult(item.source_id, ok=False, error=exc.message))
                continue
            if option.tracking_option_id:
                self.options[option.tracking_option_id] = option
            results.append(WriteResult(item.source_id, ok=True, target_id=option.tracking_option_id))
        return results

    def option_limit_result(self, item: WriteItem) -> WriteResult:
        """A create refused because the category is full; subclasses add what could be archived."""
        return WriteResult(
            item.source_id,
            ok=False,
            error=f"Xero allows {MAX_ACTIVE_OPTIONS} active options in the '{self.category_name}' tracking "
            f"category and all are in use, so '{item.payload['Name']}' was not added.",
            code=f"{self.entity}.option_limit",
            details={"category": self.category_name},
        )

    def target_url(self, target_id: str) -> str | None:
        return self.ctx.links.xero_tracking_category(self.category.tracking_category_id or "")
