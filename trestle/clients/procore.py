"""Client of the Procore REST API (v1.0 and v1.1 resources) for one company.

Every call sends ``Procore-Company-Id``. Lists ask for ``per_page=1000`` and follow the ``Link``
header's ``rel="next"``; incremental reads use ``filters[updated_at]=<from>...<to>``. Sync actions
(``PATCH …/sync``) are chunked to 1000 updates, are idempotent (records are matched by
``origin_id``) and always answer 200 with ``entities`` and ``errors``, merged into a
:class:`SyncResult`. Plain POSTs are not idempotent: a lost answer raises
:class:`~trestle.clients.errors.OutcomeUnknownError` and is never resent.

Views: where an operation has a ``view`` parameter, the client asks for the view whose documented
attribute set carries what Trestle reads (:data:`VIEWS`; the sets are in
``trestle/sandbox/procore/view_tables.py`` and docs/FIDELITY.md). Query parameters are spelled as
the operation documents them (``filters[id]`` on commitments, ``filters[id][]`` on vendors).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel

from trestle.clients import streaming
from trestle.clients.auth import Authenticator, ClientCredentialsAuthenticator
from trestle.clients.errors import MalformedResponseError, excerpt
from trestle.clients.http import ErrorDetail, RestClient, RetryPolicy
from trestle.clients.pacing import ApiUsage, ProcorePacer, RateLimitPacer
from trestle.clients.paging import LinkHeaderPaginator, Paginator
from trestle.models.procore import (
    Commitment,
    CommitmentChangeOrder,
    Company,
    ContractPayment,
    CostCode,
    DirectCost,
    DirectCostLineItem,
    Me,
    ProcoreAttachment,
    Project,
    ProjectStage,
    Requisition,
    StandardCostCode,
    StandardCostCodeList,
    SyncError,
    TaxCode,
    Vendor,
)
from trestle.timeutil import to_utc

PER_PAGE = 1000
SYNC_BATCH_SIZE = 1000
#: The view each read asks for: the narrowest documented one that carries the fields Trestle reads.
VIEWS = {
    # v1.1 projects: 'compact' is only id and name; project_number, stage, active, origin_id need 'normal'
    "projects": "normal",
    # standard cost codes: 'default' is only id and list id; code, full_code, name, origin_id need 'extended'
    "standard_cost_codes": "extended",
    # requisitions v1.1: items[] are "included only when the views query param includes 'extended' or 'items'"
    "requisitions": "items",
}
CommitmentKind = Literal["work_order", "purchase_order"]
EntityT = TypeVar("EntityT", bound=BaseModel)


def updated_at_filter(since: datetime, until: datetime | None = None) -> str:
    """``filters[updated_at]`` value: ``<since>...<until>`` in ISO-8601 UTC (until defaults to now)."""
    end = to_utc(until) if until is not None else datetime.now(UTC)
    return f"{to_utc(since):%Y-%m-%dT%H:%M:%SZ}...{end:%Y-%m-%dT%H:%M:%SZ}"


@dataclass
class SyncResult(Generic[EntityT]):
    """Merged answer of one or more sync calls: saved ``entities`` and rejected ``errors``."""

    entities: list[EntityT] = field(default_factory=list)
    errors: list[SyncError] = field(default_factory=list)


def _wire(item: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", exclude_none=True)
    return dict(item)


class ProcoreClient(RestClient):
    """Typed access to the Procore endpoints Trestle needs, for one company."""

    system = "procore"

    def __init__(
        self,
        *,
        api_url: str = "https://api.procore.com",
        company_id: int,
        authenticator: Authenticator,
        usage: ApiUsage | None = None,
        transport: httpx.BaseTransport | None = None,
        pacer: RateLimitPacer | None = None,
        retry: RetryPolicy | None = None,
        per_page: int = PER_PAGE,
        timeout: float = 60.0,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        monotonic: Callable[[], float] | None = None,
        rand: Callable[[], float] | None = None,
    ) -> None:
        usage = usage or ApiUsage()
        pacer_timing: dict[str, Any] = {
            name: value for name, value in (("sleep", sleep), ("clock", clock)) if value is not None
        }
        timing: dict[str, Any] = {
            name: value
            for name, value in (("sleep", sleep), ("monotonic", monotonic), ("rand", rand))
            if value is not None
        }
        super().__init__(
            base_url=api_url,
            authenticator=authenticator,
            pacer=pacer or ProcorePacer(usage=usage, **pacer_timing),
            retry=retry,
            usage=usage,
            transport=transport,
            timeout=timeout,
            **timing,
        )
        self.company_id = company_id
        self.per_page = per_page

    @classmethod
    def service_account(
        cls,
        *,
        client_id: str,
        client_secret: str,
        company_id: int,
        api_url: str = "https://api.procore.com",
        login_url: str = "https://login.procore.com",
        transport: httpx.BaseTransport | None = None,
        **kwargs: Any,
    ) -> ProcoreClient:
        """A client authenticated as a Developer Managed Service Account (client credentials in the body)."""
        authenticator = ClientCredentialsAuthenticator(
            f"{login_url.rstrip('/')}/oauth/token",
            client_id,
            client_secret,
            credentials_in="body",
            system="procore",
            transport=transport,
        )
        return cls(api_url=api_url, company_id=company_id, authenticator=authenticator, transport=transport, **kwargs)

    # -- RestClient hooks -----------------------------------------------------------------------

    def default_headers(self) -> dict[str, str]:
        """JSON plus the company header Procore requires on every call."""
        return {"Accept": "application/json", "Procore-Company-Id": str(self.company_id)}

    def get_new_paginator(self) -> Paginator:
        """Follow ``Link: rel="next"``."""
        return LinkHeaderPaginator()

    def parse_error_detail(self, response: httpx.Response) -> ErrorDetail:
        """``{"errors": …}``, ``{"message": …}``, v2 ``{"error": {…}}`` or plain text (429)."""
        try:
            body = response.json()
        except ValueError:
            return ErrorDetail(detail=excerpt(response.text))
        messages: list[str] = []
        if isinstance(body, dict):
            errors = body.get("errors")
            if isinstance(errors, dict):
                for name, value in errors.items():
                    values = value if isinstance(value, list) else [value]
                    messages.extend(f"{name} {message}" if name != "base" else str(message) for message in values)
            elif isinstance(errors, list):
                messages.extend(str(message) for message in errors)
            elif isinstance(errors, str):
                messages.append(errors)
            nested = body.get("error")
            if isinstance(nested, dict):
                messages.append(str(nested.get("message") or nested.get("code") or ""))
                messages.extend(
                    str(item.get("message")) for item in nested.get("details") or [] if isinstance(item, dict)
                )
            elif isinstance(nested, str):
                messages.append(nested)
            if body.get("message"):
                messages.append(str(body["message"]))
        messages = [message for message in messages if message]
        return ErrorDetail(detail="; ".join(messages) or excerpt(response.text), messages=messages)

    # -- plumbing -------------------------------------------------------------------------------

    def _iter(
        self, path: str, *, route: str | None = None, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        route = route or path
        clean = {name: value for name, value in (params or {}).items() if value is not None}
        return self.paginate(
            path,
            route=route,
            params={**clean, "page": 1, "per_page": self.per_page},
            records=lambda payload: self._list(payload, route),
        )

    def _list(self, payload: Any, route: str) -> list[dict[str, Any]]:
        if not isinstance(payload, list):
            found = sorted(payload)[:8] if isinstance(payload, dict) else type(payload).__name__
            raise MalformedResponseError(
                f"procore {route}: expected a JSON array (found {found})", system=self.system, route=route
            )
        return payload

    def _object(self, payload: Any, route: str) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise MalformedResponseError(
                f"procore {route}: expected a JSON object, got {type(payload).__name__}",
                system=self.system,
                route=route,
            )
        return payload

    def _get(self, path: str, route: str, **params: Any) -> dict[str, Any]:
        return self._object(self.get_json(path, route=route, params=params), route)

    def _write(self, method: str, path: str, route: str, body: Any, *, idempotent: bool, **params: Any) -> Any:
        response = self.request(method, path, route=route, params=params or None, json=body, idempotent=idempotent)
        return None if response.status_code == 204 or not response.content else self.decode_json(response, route=route)

    def _sync(
        self,
        path: str,
        updates: Sequence[BaseModel | Mapping[str, Any]],
        model: type[EntityT],
        *,
        route: str | None = None,
        **extra: Any,
    ) -> SyncResult[EntityT]:
        route = route or path
        result: SyncResult[EntityT] = SyncResult()
        wire = [_wire(update) for update in updates]
        for start in range(0, len(wire), SYNC_BATCH_SIZE):
            body = {**extra, "updates": wire[start : start + SYNC_BATCH_SIZE]}
            payload = self._object(self._write("PATCH", path, route, body, idempotent=True), route)
            entities, errors = payload.get("entities"), payload.get("errors")
            if not isinstance(entities, list) or not isinstance(errors, list):
                raise MalformedResponseError(
                    f"procore PATCH {route}: sync answer lacks 'entities'/'errors' lists",
                    system=self.system,
                    route=route,
                )
            result.entities.extend(model.model_validate(entity) for entity in entities)
            result.errors.extend(SyncError.model_validate(error) for error in errors)
        return result

    @staticmethod
    def _updated(since: datetime | None) -> str | None:
        return updated_at_filter(since) if since is not None else None

    # -- company --------------------------------------------------------------------------------

    def companies(self) -> list[Company]:
        """Companies the token can reach."""
        return [Company.model_validate(item) for item in self._iter("/rest/v1.0/companies")]

    def me(self) -> Me:
        """The authenticated account."""
        return Me.model_validate(self._get("/rest/v1.0/me", "/rest/v1.0/me"))

    def iter_projects(
        self,
        *,
        updated_since: datetime | None = None,
        origin_id: str | None = None,
        by_status: str | None = None,
    ) -> Iterator[Project]:
        """Projects of the company (v1.1: with ``project_number`` and ``stage``).

        ``by_status`` is ``Active`` (Procore's default), ``Inactive`` or ``All``.
        """
        params = {
            "company_id": self.company_id,
            "filters[updated_at]": self._updated(updated_since),
            "filters[origin_id]": origin_id,
            "filters[by_status]": by_status,
            "view": VIEWS["projects"],
        }
        for item in self._iter("/rest/v1.1/projects", params=params):
            yield Project.model_validate(item)

    def project(self, project_id: int) -> Project:
        """One project."""
        route = "/rest/v1.0/projects/{id}"
        return Project.model_validate(self._get(f"/rest/v1.0/projects/{project_id}", route, company_id=self.company_id))

    def project_stages(self) -> list[ProjectStage]:
        """The company's project stages."""
        path = f"/rest/v1.0/companies/{self.company_id}/project_stages"
        items = self._iter(path, route="/rest/v1.0/companies/{company_id}/project_stages")
        return [ProjectStage.model_validate(item) for item in items]

    def iter_vendors(
        self,
        *,
        updated_since: datetime | None = None,
        origin_id: str | None = None,
        ids: Sequence[int] | None = None,
    ) -> Iterator[Vendor]:
        """Active company vendors."""
        params = {
            "company_id": self.company_id,
            "filters[updated_at]": self._updated(updated_since),
            "filters[origin_id]": origin_id,
            "filters[id][]": list(ids) if ids else None,
        }
        for item in self._iter("/rest/v1.0/vendors", params=params):
            yield Vendor.model_validate(item)

    def iter_inactive_vendors(self) -> Iterator[Vendor]:
        """Inactive company vendors (a separate list in Procore)."""
        path = f"/rest/v1.0/companies/{self.company_id}/vendors/inactive"
        for item in self._iter(path, route="/rest/v1.0/companies/{company_id}/vendors/inactive"):
            yield Vendor.model_validate(item)

    def vendor(self, vendor_id: int) -> Vendor:
        """One vendor."""
        route = "/rest/v1.0/vendors/{id}"
        return Vendor.model_validate(self._get(f"/rest/v1.0/vendors/{vendor_id}", route, company_id=self.company_id))

    def sync_vendors(self, updates: Sequence[Vendor | Mapping[str, Any]]) -> SyncResult[Vendor]:
        """Create or update vendors matched by ``id``/``origin_id`` (``PATCH /rest/v1.0/vendors/sync``)."""
        return self._sync("/rest/v1.0/vendors/sync", updates, Vendor, company_id=self.company_id)

    # -- cost codes and tax ---------------------------------------------------------------------

    def standard_cost_code_lists(self) -> list[StandardCostCodeList]:
        """Company cost code lists."""
        items = self._iter("/rest/v1.0/standard_cost_code_lists", params={"company_id": self.company_id})
        return [StandardCostCodeList.model_validate(item) for item in items]

    def iter_standard_cost_codes(self, list_id: int) -> Iterator[StandardCostCode]:
        """The codes of one company list."""
        params = {
            "company_id": self.company_id,
            "standard_cost_code_list_id": list_id,
            "view": VIEWS["standard_cost_codes"],
        }
        for item in self._iter("/rest/v1.0/standard_cost_codes", params=params):
            yield StandardCostCode.model_validate(item)

    def iter_project_cost_codes(self, project_id: int) -> Iterator[CostCode]:
        """A project's cost codes."""
        for item in self._iter("/rest/v1.0/cost_codes", params={"project_id": project_id}):
            yield CostCode.model_validate(item)

    def tax_codes(self) -> list[TaxCode]:
        """Company tax codes."""
        items = self._iter("/rest/v1.0/tax_codes", params={"company_id": self.company_id})
        return [TaxCode.model_validate(item) for item in items]

    # -- commitments, invoices, payments --------------------------------------------------------

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
        body = {"project_id": project_id, "contract_id": contract_id, "contract_payment": _wire(payment)}
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

    # -- direct costs ---------------------------------------------------------------------------

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
        payload = self._write("POST", path, route, {"item": _wire(direct_cost)}, idempotent=False)
        return DirectCost.model_validate(self._object(payload, route))

    def sync_direct_costs(
        self, project_id: int, updates: Sequence[DirectCost | Mapping[str, Any]]
    ) -> SyncResult[DirectCost]:
        """Create or update direct cost headers matched by ``id``/``origin_id`` (v1.0 sync; no lines)."""
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/sync"
        return self._sync(path, updates, DirectCost, route="/rest/v1.0/projects/{project_id}/direct_costs/sync")

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
        payload = self._write("POST", path, route, {"line_item": _wire(line)}, idempotent=False)
        return DirectCostLineItem.model_validate(self._object(payload, route))

    def update_direct_cost_line(
        self, project_id: int, direct_cost_id: int, line_id: int, line: DirectCostLineItem | Mapping[str, Any]
    ) -> DirectCostLineItem:
        """Change one line of an unlocked direct cost (the same values again change nothing)."""
        route = "/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items/{id}"
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items/{line_id}"
        payload = self._write("PATCH", path, route, {"line_item": _wire(line)}, idempotent=True)
        return DirectCostLineItem.model_validate(self._object(payload, route))

    def delete_direct_cost_line(self, project_id: int, direct_cost_id: int, line_id: int) -> None:
        """Remove one line of an unlocked direct cost (a retry after a lost answer may see 404)."""
        route = "/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items/{id}"
        path = f"/rest/v1.0/projects/{project_id}/direct_costs/{direct_cost_id}/line_items/{line_id}"
        self._write("DELETE", path, route, None, idempotent=True)
