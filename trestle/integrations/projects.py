"""Projects: Procore projects → options of the Xero "Project" tracking category.

Picked up: active Procore projects whose stage is ``sync.project_stage`` (default "Send to
Xero"), and every project already linked whatever its stage (once in Xero, a project stays
there); inactive projects are not processed. A single-project run ignores the stage.
The option is named ``"<project number> <project name>"``, cut to Xero's 100 characters, so
bills and purchase orders are easy to code. An existing option with that name, or one starting
with the project number and a space (a renamed project), is linked instead of created.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from trestle.integrations.tracking import MAX_ACTIVE_OPTIONS, TrackingOptionIntegration
from trestle.models.procore import Project
from trestle.naming import project_option_name
from trestle.tasks.engine import Page, Record, WriteItem, WriteResult

__all__ = ["ProjectsIntegration"]


class ProjectsIntegration(TrackingOptionIntegration):
    name = "projects"
    title = "Projects"
    entity = "project"
    category_setting = "project_category"
    issue_fixes = {
        "projects.category_missing": "Create the 'Project' tracking category in Xero (Accounting → Advanced → "
        "Tracking categories), or set TRESTLE_SYNC_PROJECT_CATEGORY to the category you use.",
        "project.no_number": "Give the project a project number in Procore (Project Admin → General).",
        "project.option_limit": "Archive options of finished projects in Xero (the message lists candidates); "
        "the next run adds the new ones.",
        "project.write_rejected": "Correct the project name in Procore as Xero's message says.",
    }
    issue_meanings = {
        "projects.category_missing": "The Xero tracking category for projects does not exist, so no projects were "
        "sent.",
        "project.no_number": "The Procore project has no project number, which its Xero option is named after.",
        "project.option_limit": "Xero allows 100 active options per tracking category and they are all used.",
        "project.write_rejected": "Xero refused the project's tracking option; its message says why.",
    }

    def prepare(self) -> None:
        self.prepare_category()
        self.linked = {link.procore_id for link in self.ctx.store.links(self.entity)}
        projects = list(self.ctx.procore.iter_projects(by_status="All"))
        self.projects = {str(project.id): project for project in projects}

    def expected_total(self) -> int | None:
        return len(self.projects)

    def _wanted(self, project: Project) -> bool:
        allowed = self.ctx.options.project_ids
        if allowed is not None:
            return project.id in allowed
        if project.active is False:
            return False
        return str(project.id) in self.linked or (project.stage or "") == self.ctx.settings.sync.project_stage

    def _record(self, project: Project) -> Record:
        label = " ".join(part for part in (project.project_number, project.name) if part) or f"Project {project.id}"
        return Record(
            str(project.id),
            label,
            project,
            updated_at=project.updated_at,
            url=self.ctx.links.procore_project(project.id),
        )

    def fetch(self, since: datetime | None) -> Iterator[Page]:
        # One call in prepare reads every project (stage changes must be seen even when a
        # project's other fields did not change), so the page is built from that list.
        chosen = [
            project
            for project in self.projects.values()
            if self._wanted(project)
            and (
                since is None
                or project.updated_at is None
                or project.updated_at >= since
                or str(project.id) not in self.linked
            )
        ]
        high_water = max((p.updated_at for p in self.projects.values() if p.updated_at), default=None)
        yield Page([self._record(project) for project in chosen], high_water=high_water)

    def fetch_by_ids(self, ids: Sequence[str]) -> list[Record]:
        return [self._record(self.projects[i]) for i in ids if i in self.projects and self._wanted(self.projects[i])]

    def validate(self, record: Record) -> None:
        project: Project = record.data
        if not (project.project_number or "").strip():
            record.flag(
                "project.no_number",
                f"Project '{project.name}' has no project number, so it cannot be named in Xero.",
            )

    def match(self, records: list[Record]) -> None:
        for record in records:
            project: Project = record.data
            name = project_option_name(project.project_number or "", project.name or "")
            option = self.by_name.get(name.casefold())
            if option is None:
                prefix = f"{project.project_number} ".casefold()
                candidates = [o for n, o in self.by_name.items() if n.startswith(prefix)]
                option = candidates[0] if len(candidates) == 1 else None
            if option is not None and option.tracking_option_id not in self.taken_targets:
                record.target_id, record.target, record.match_method = option.tracking_option_id, option, "name"

    def map(self, record: Record) -> dict[str, Any]:
        project: Project = record.data
        return {"Name": project_option_name(project.project_number or "", (project.name or "").strip())}

    def option_limit_result(self, item: WriteItem) -> WriteResult:
        result = super().option_limit_result(item)
        finished = self._archivable()
        if finished:
            result.error = (
                (result.error or "")
                + " Finished projects whose options could be archived: "
                + ", ".join(finished[:15])
                + ("…" if len(finished) > 15 else "")
            )
        result.details["archivable"] = finished
        result.details["limit"] = MAX_ACTIVE_OPTIONS
        return result

    def _archivable(self) -> list[str]:
        """Active options whose linked Procore project is inactive (or gone)."""
        names = []
        for link in self.ctx.store.links(self.entity):
            option = self.options.get(link.xero_id)
            project = self.projects.get(link.procore_id)
            if (
                option is not None
                and (option.status or "ACTIVE") == "ACTIVE"
                and (project is None or not project.active)
            ):
                names.append(option.name or link.xero_id)
        return sorted(names)
