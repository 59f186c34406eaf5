"""The state one integration's pipeline carries from stage to stage within a run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from trestle.models.links import LinkRow
from trestle.models.report import IntegrationReport
from trestle.notifications.artifacts import ProgressReporter

if TYPE_CHECKING:
    from trestle.tasks.context import RunContext
    from trestle.tasks.engine import Integration, Record, WriteResult


class PipelineRun:
    """Links loaded once, records seen, write results and the report being built.

    A plain class (not a dataclass) so Prefect passes it to tasks by reference.
    """

    def __init__(self, integration: Integration, ctx: RunContext) -> None:
        self.integration = integration
        self.ctx = ctx
        self.name = integration.name
        self.report = IntegrationReport(
            integration=integration.name,
            title=integration.title,
            direction=integration.direction,
            dry_run=ctx.dry_run,
            started_at=datetime.now(UTC),
        )
        self.links_by_source: dict[str, LinkRow] = {}
        self.links_by_target: dict[str, str] = {}
        self.processed: set[str] = set()
        self.recheck_ids: set[str] = set()
        self.recovered: set[str] = set()  # source ids whose pending write was finished this run
        # source ids whose write may have reached the server and is still unconfirmed: never resent
        # blind in this run (the next run's recovery looks each up first)
        self.unconfirmed: set[str] = set()
        self.write_results: dict[str, WriteResult] = {}
        self.found_issues: dict[str, Record] = {}
        self.high_water: dict[str, datetime] = {}
        self.lock_holder: str | None = None
        self.progress = ProgressReporter(description=f"{integration.title}: records processed")

    def load_links(self) -> None:
        """Read the integration's links, once the run holds its lease (never before: a run that
        waited for another to finish must see the links that run wrote, or it writes them again)."""
        self.links_by_source.clear()
        self.links_by_target.clear()
        self.remember_links(self.ctx.store.links(self.integration.entity))

    def remember_links(self, links: Sequence[LinkRow]) -> None:
        for link in links:
            source_id = self.integration.source_id_of(link)
            target_id = self.integration.target_id_of(link)
            previous = self.links_by_source.get(source_id)
            if previous is not None:
                self.links_by_target.pop(self.integration.target_id_of(previous), None)
            self.links_by_source[source_id] = link
            self.links_by_target[target_id] = source_id

    def note_high_water(self, stream: str, value: datetime) -> None:
        if stream not in self.high_water or value > self.high_water[stream]:
            self.high_water[stream] = value
