"""Procore direct cost calls: headers, lines and attached files (streamed, never held whole in memory)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import IO, Any

from trestle.clients import streaming
from trestle.clients.errors import MalformedResponseError
from trestle.clients.procore_base import ProcoreBase, SyncResult, to_wire
from trestle.models.procore import DirectCost, DirectCostLineItem, ProcoreAttachment


class DirectCostsApi(ProcoreBase):
    """Create, sync and delete direct costs and their lines; download and attach their files."""

    def iter_direct_costs(
        self,
        project_id: int,
        *,
        updated_since: datetime | None = None,
        origin_id: str | None = None,
        invoice_number: str | None = None,
    ) -> Iterator[DirectCost]:
        """Direct costs of a project (v1.1 list; ``filters[origin_id]``/``filters[invoice_number]``)."""
        params = {
            "filters[updated_at]": self._updated(updated_since),
            "filters[origin_id]": origin_id,
            "filters[invoice_number]": invoice_number,
        }
        path = f"/rest/v1.1/projects/{project_id}/direct_costs"
        for item in self._iter(path, route="/rest/v1.1/projects/{project_id}/direct_costs", params=params):
            yield DirectCost.model_validate(item)

    def create_direct_cost(self, project_id: int, direct_cost: DirectCost | Mapping[str, Any]) -> DirectCost:
        """Create a direct cost header (v1.0 ``{"item": {…}}``; lines go through :meth:`create_direct_cost_line`).

        Not idempotent: a lost answer raises OutcomeUnknownError.
        """
        route = "/rest/v1.0/projects/{project_id}/direct_costs"
        path = f"/rest/v1.0/projects/{project_id}/direct_costs"
        payload = self._write("POST", path, route, {"item": to_wire(direct_cost)}, idempotent=False)
        return DirectCost.model_validate(self._object(payload, route))

    def sync_direct_costs(
        self, project_id: int, updates: Sequence[DirectCost | Mapping[str, Any]]
    ) -> SyncResult[DirectCost]:
        """Create or update direct cost headers matched by ``id``/``origin_id`` (v1.0 sync; no lines)."""
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/sync"
        return self._sync(path, updates, DirectCost, route="/rest/v1.0/projects/{project_id}/direct_costs/sync")

    def create_direct_costs(self, project_id: int, headers: Sequence[Mapping[str, Any]]) -> SyncResult[DirectCost]:
        """Create many direct cost headers in one sync (no ``id``, no ``origin_id``: nothing locks them).

        Not idempotent (nothing matches a resent header): a lost answer raises OutcomeUnknownError,
        and the caller finds what was created by each header's ``origin_data``.
        """
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/sync"
        route = "/rest/v1.0/projects/{project_id}/direct_costs/sync"
        return self._sync(path, headers, DirectCost, route=route, idempotent=False)

    def sync_direct_cost_lines(
        self, project_id: int, lines: Sequence[DirectCostLineItem | Mapping[str, Any]]
    ) -> SyncResult[DirectCostLineItem]:
        """Create or update lines of the project's unlocked direct costs in one sync.

        A new line names its ``direct_cost_id``, ``cost_code_id`` and ``line_item_type_id`` (the
        operation requires the type with a cost code). Lines carry their ``origin_id``, so a resend
        after a lost answer finds the lines the first send made (the sync reading of docs/FIDELITY.md).
        """
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/line_items/sync"
        route = "/rest/v1.0/projects/{project_id}/direct_costs/line_items/sync"
        return self._sync(path, lines, DirectCostLineItem, route=route)

    def delete_direct_cost(self, project_id: int, direct_cost_id: int) -> None:
        """Delete a direct cost (refused with 422 while its ``origin_id`` locks it; a retry may see 404)."""
        route = "/rest/v1.0/projects/{project_id}/direct_costs/{id}"
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}"
        self._write("DELETE", path, route, None, idempotent=True)

    # -- attachment files (streamed, never held whole in memory) --------------------------------

    def download_attachment(self, attachment: ProcoreAttachment, into: IO[bytes], *, limit: int | None = None) -> int:
        """Copy a record's file from its pre-signed ``url`` into ``into``; its size.

        The link is a credential of its own and may name another host (Procore's file storage), so
        no token is sent with it and it never appears in a message.
        """
        if not attachment.url:
            raise MalformedResponseError(
                f"procore attachment {attachment.id} has no url", system=self.system, route="attachment url"
            )
        return streaming.download(self, attachment.url, into, route="attachment url", limit=limit, authenticated=False)

    def direct_cost(self, project_id: int, direct_cost_id: int) -> DirectCost:
        """One direct cost with its lines and ``attachments`` (v1.1 show)."""
        route = "/rest/v1.1/projects/{project_id}/direct_costs/{id}"
        return DirectCost.model_validate(
            self._get(f"/rest/v1.1/projects/{project_id}/direct_costs/{direct_cost_id}", route)
        )

    def attach_to_direct_cost(
        self, project_id: int, direct_cost_id: int, file_name: str, file: IO[bytes], content_type: str
    ) -> DirectCost:
        """Add a file to a direct cost: ``PATCH`` as ``multipart/form-data`` with one ``attachments[]`` part.

        Not idempotent (each call adds a file): a lost answer raises OutcomeUnknownError, and the
        caller looks for the file on the direct cost before sending it again. Refused (422) while
        the direct cost's ``origin_id`` locks it.
        """
        route = "/rest/v1.1/projects/{project_id}/direct_costs/{id}"
        path = f"/rest/v1.1/projects/{project_id}/direct_costs/{direct_cost_id}"
        response = streaming.send_form(
            self, "PATCH", path, "attachments[]", file_name, file, route=route, content_type=content_type
        )
        return DirectCost.model_validate(self._object(self.decode_json(response, route=route), route))

    def iter_direct_cost_lines(self, project_id: int, direct_cost_id: int) -> Iterator[DirectCostLineItem]:
        """The lines of one direct cost (each with its ``origin_id``)."""
        route = "/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items"
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items"
        for item in self._iter(path, route=route):
            yield DirectCostLineItem.model_validate(item)

    def create_direct_cost_line(
        self, project_id: int, direct_cost_id: int, line: DirectCostLineItem | Mapping[str, Any]
    ) -> DirectCostLineItem:
        """Add a line to an unlocked direct cost. Not idempotent: a lost answer raises OutcomeUnknownError."""
        route = "/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items"
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items"
        payload = self._write("POST", path, route, {"line_item": to_wire(line)}, idempotent=False)
        return DirectCostLineItem.model_validate(self._object(payload, route))

    def update_direct_cost_line(
        self, project_id: int, direct_cost_id: int, line_id: int, line: DirectCostLineItem | Mapping[str, Any]
    ) -> DirectCostLineItem:
        """Change one line of an unlocked direct cost (the same values again change nothing)."""
        route = "/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items/{id}"
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items/{line_id}"
        payload = self._write("PATCH", path, route, {"line_item": to_wire(line)}, idempotent=True)
        return DirectCostLineItem.model_validate(self._object(payload, route))

    def delete_direct_cost_line(self, project_id: int, direct_cost_id: int, line_id: int) -> None:
        """Remove one line of an unlocked direct cost (a retry after a lost answer may see 404)."""
        route = "/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items/{id}"
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items/{line_id}"
        self._write("DELETE", path, route, None, idempotent=True)
