"""Procore calls of the Commitments tool: commitments, their change orders, subcontractor invoices, payments."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from trestle.clients.procore_base import VIEWS, ProcoreBase, to_wire
from trestle.models.procore import Commitment, CommitmentChangeOrder, ContractPayment, Requisition

CommitmentKind = Literal["work_order", "purchase_order"]


class CommitmentsApi(ProcoreBase):
    """Read commitments and change orders; link invoices; record, unlink and delete payments."""

    def iter_commitments(
        self,
        kind: CommitmentKind,
        project_id: int,
        *,
        updated_since: datetime | None = None,
        status: str | None = None,
        ids: Sequence[int] | None = None,
    ) -> Iterator[Commitment]:
        """Work order (subcontract) or purchase order contracts of a project (without lines)."""
        params = {
            "project_id": project_id,
            "filters[updated_at]": self._updated(updated_since),
            "filters[status]": status,
            "filters[id]": list(ids) if ids else None,
        }
        for item in self._iter(f"/rest/v1.0/{kind}_contracts", params=params):
            yield Commitment.model_validate(item)

    def commitment(self, kind: CommitmentKind, project_id: int, commitment_id: int) -> Commitment:
        """One commitment with ``line_items`` and ``payments_issued``."""
        route = f"/rest/v1.0/{kind}_contracts/{{id}}"
        path = f"/rest/v1.0/{kind}_contracts/{commitment_id}"
        return Commitment.model_validate(self._get(path, route, project_id=project_id))

    # -- commitment change orders ---------------------------------------------------------------

    def iter_commitment_change_orders(
        self,
        project_id: int,
        *,
        updated_since: datetime | None = None,
        status: str | None = None,
        contract_id: int | None = None,
    ) -> Iterator[CommitmentChangeOrder]:
        """Change orders of a project's commitments (without lines).

        The operation documents no ``page``/``per_page``: one request, following a ``Link``
        ``rel="next"`` only if the server sends one.
        """
        route = "/rest/v1.0/projects/{project_id}/commitment_change_orders"
        params = {
            "filters[updated_at]": self._updated(updated_since),
            "filters[status]": status,
            "filters[contract_id]": contract_id,
        }
        items = self.paginate(
            f"/rest/v1.0/projects/{project_id}/commitment_change_orders",
            route=route,
            params={name: value for name, value in params.items() if value is not None},
            records=lambda payload: self._list(payload, route),
        )
        for item in items:
            yield CommitmentChangeOrder.model_validate(item)

    def commitment_change_order(self, project_id: int, change_order_id: int) -> CommitmentChangeOrder:
        """One change order with its ``line_items``."""
        route = "/rest/v1.0/projects/{project_id}/commitment_change_orders/{id}"
        path = f"/rest/v1.0/projects/{project_id}/commitment_change_orders/{change_order_id}"
        return CommitmentChangeOrder.model_validate(self._get(path, route))

    def iter_requisitions(
        self,
        project_id: int,
        *,
        updated_since: datetime | None = None,
        status: str | None = None,
        ids: Sequence[int] | None = None,
    ) -> Iterator[Requisition]:
        """Subcontractor invoices of a project (v1.1, with their ``items``); ``ids`` narrows to those."""
        params = {
            "project_id": project_id,
            "filters[updated_at]": self._updated(updated_since),
            "filters[status]": status,
            "filters[id]": list(ids) if ids else None,
            "view": VIEWS["requisitions"],
        }
        for item in self._iter("/rest/v1.1/requisitions", params=params):
            yield Requisition.model_validate(item)

    def requisition(self, project_id: int, requisition_id: int) -> Requisition:
        """One subcontractor invoice with its summary and ``items``."""
        route = "/rest/v1.1/requisitions/{id}"
        path = f"/rest/v1.1/requisitions/{requisition_id}"
        return Requisition.model_validate(self._get(path, route, project_id=project_id, view=VIEWS["requisitions"]))

    def update_requisition_origin(
        self,
        project_id: int,
        requisition_id: int,
        *,
        commitment_id: int,
        origin_id: str,
        origin_data: str | None = None,
    ) -> Requisition:
        """Link a subcontractor invoice to its Xero bill (sets origin_id; Procore then locks it)."""
        route = "/rest/v1.1/requisitions/{id}"
        fields = {"origin_id": origin_id, **({"origin_data": origin_data} if origin_data is not None else {})}
        body = {"project_id": project_id, "commitment_id": commitment_id, "requisition": fields}
        payload = self._write("PATCH", f"/rest/v1.1/requisitions/{requisition_id}", route, body, idempotent=True)
        return Requisition.model_validate(self._object(payload, route))

    def contract_payments(self, project_id: int, contract_id: int) -> list[ContractPayment]:
        """Payments issued on one commitment (Procore has no project-wide list)."""
        params = {"project_id": project_id, "contract_id": contract_id}
        return [
            ContractPayment.model_validate(item) for item in self._iter("/rest/v1.0/contract_payments", params=params)
        ]

    def create_contract_payment(
        self, project_id: int, contract_id: int, payment: ContractPayment | Mapping[str, Any]
    ) -> ContractPayment:
        """Record a payment on a commitment. Not idempotent: a lost answer raises OutcomeUnknownError."""
        route = "/rest/v1.0/contract_payments"
        body = {"project_id": project_id, "contract_id": contract_id, "contract_payment": to_wire(payment)}
        payload = self._write("POST", route, route, body, idempotent=False)
        return ContractPayment.model_validate(self._object(payload, route))

    def unlink_contract_payment(self, project_id: int, contract_id: int, payment_id: int) -> ContractPayment:
        """Clear a payment's ``origin_id``/``origin_data`` (the only fields a synced payment allows to change),
        which unlocks it so it can be deleted."""
        route = "/rest/v1.0/contract_payments/{id}"
        body = {
            "project_id": project_id,
            "contract_id": contract_id,
            "contract_payment": {"origin_id": None, "origin_data": None},
        }
        payload = self._write("PATCH", f"/rest/v1.0/contract_payments/{payment_id}", route, body, idempotent=True)
        return ContractPayment.model_validate(self._object(payload, route))

    def delete_contract_payment(self, project_id: int, contract_id: int, payment_id: int) -> None:
        """Delete a payment (a retry after a lost answer may then see 404 NotFoundError)."""
        route = "/rest/v1.0/contract_payments/{id}"
        self._write(
            "DELETE",
            f"/rest/v1.0/contract_payments/{payment_id}",
            route,
            None,
            idempotent=True,
            project_id=project_id,
            contract_id=contract_id,
        )
