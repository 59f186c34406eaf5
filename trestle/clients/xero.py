"""Client of the Xero Accounting API (``/api.xro/2.0``) and the identity ``/connections`` list.

Every accounting call sends ``xero-tenant-id`` and ``Accept: application/json``; every PUT/POST
sends the caller's deterministic ``Idempotency-Key`` (``{key}-{n}`` per chunk when a batch is
split), which is what makes retrying a write whose response was lost safe. Lists are read with
``page``/``pageSize=1000`` and streamed; batch writes use ``summarizeErrors=false`` and at most 50
elements per request, and return one :class:`BatchResult` per input element, in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any
from urllib.parse import quote

import httpx

from trestle.batching import chunked
from trestle.clients import streaming
from trestle.clients.auth import Authenticator, ClientCredentialsAuthenticator
from trestle.clients.errors import MalformedResponseError, ValidationFailed, excerpt
from trestle.clients.http import ErrorDetail, RestClient, RetryPolicy
from trestle.clients.pacing import ApiUsage, RateLimitPacer, XeroPacer
from trestle.clients.paging import PageNumberPaginator, Paginator
from trestle.clients.xero_batch import (
    BATCH_SIZE,
    BatchResult,
    Collection,
    ModelT,
    element_result,
    idempotency_keys,
    summarised_results,
    validation_messages,
)
from trestle.models.attachments import XeroAttachment
from trestle.models.xero import (
    Account,
    Contact,
    ContactGroup,
    CreditNote,
    Invoice,
    Organisation,
    Payment,
    PurchaseOrder,
    TaxRate,
    TrackingCategory,
    TrackingOption,
    XeroConnection,
    XeroModel,
)
from trestle.timeutil import to_utc

ACCOUNTING = "/api.xro/2.0"
MAX_PAGE_SIZE = 1000

_INVOICES = Collection("/Invoices", "Invoices", ("InvoiceID", "InvoiceNumber"))
_CREDIT_NOTES = Collection("/CreditNotes", "CreditNotes", ("CreditNoteID", "CreditNoteNumber"))
_PURCHASE_ORDERS = Collection("/PurchaseOrders", "PurchaseOrders", ("PurchaseOrderID", "PurchaseOrderNumber"))
_CONTACTS = Collection("/Contacts", "Contacts", ("ContactID", "ContactNumber", "Name"))
_PAYMENTS = Collection("/Payments", "Payments", ("PaymentID",))


class XeroClient(RestClient):
    """Typed access to the Xero endpoints Trestle needs, for one tenant."""

    system = "xero"

    def __init__(
        self,
        *,
        api_url: str = "https://api.xero.com",
        identity_url: str = "https://identity.xero.com",
        tenant_id: str,
        authenticator: Authenticator,
        usage: ApiUsage | None = None,
        transport: httpx.BaseTransport | None = None,
        pacer: RateLimitPacer | None = None,
        retry: RetryPolicy | None = None,
        page_size: int = MAX_PAGE_SIZE,
        timeout: float = 60.0,
        sleep: Callable[[float], None] | None = None,
        monotonic: Callable[[], float] | None = None,
        rand: Callable[[], float] | None = None,
    ) -> None:
        usage = usage or ApiUsage()
        timing: dict[str, Any] = {
            name: value for name, value in (("sleep", sleep), ("monotonic", monotonic)) if value is not None
        }
        super().__init__(
            base_url=api_url,
            authenticator=authenticator,
            pacer=pacer or XeroPacer(usage=usage, **timing),
            retry=retry,
            usage=usage,
            transport=transport,
            timeout=timeout,
            **timing,
            rand=rand,
        )
        self.identity_url = identity_url.rstrip("/")
        self.tenant_id = tenant_id
        self.page_size = min(page_size, MAX_PAGE_SIZE)

    @classmethod
    def custom_connection(
        cls,
        *,
        client_id: str,
        client_secret: str,
        tenant_id: str,
        api_url: str = "https://api.xero.com",
        identity_url: str = "https://identity.xero.com",
        scope: str | None = None,
        transport: httpx.BaseTransport | None = None,
        **kwargs: Any,
    ) -> XeroClient:
        """A client authenticated as a Xero custom connection (client credentials, HTTP Basic)."""
        authenticator = ClientCredentialsAuthenticator(
            f"{identity_url.rstrip('/')}/connect/token",
            client_id,
            client_secret,
            scope=scope,
            system="xero",
            transport=transport,
        )
        return cls(
            api_url=api_url,
            identity_url=identity_url,
            tenant_id=tenant_id,
            authenticator=authenticator,
            transport=transport,
            **kwargs,
        )

    # -- RestClient hooks -----------------------------------------------------------------------

    def get_new_paginator(self) -> Paginator:
        """Page numbers with the configured page size."""
        return PageNumberPaginator(self.page_size)

    def parse_error_detail(self, response: httpx.Response) -> ErrorDetail:
        """ValidationException bodies, problem documents (401/403) and plain text."""
        try:
            body = response.json()
        except ValueError:
            return ErrorDetail(detail=excerpt(response.text))
        if not isinstance(body, dict):
            return ErrorDetail(detail=excerpt(response.text))
        if body.get("Type") == "ValidationException":
            elements = [element for element in body.get("Elements") or [] if isinstance(element, dict)]
            messages = [message for element in elements for message in validation_messages(element)]
            return ErrorDetail(
                detail="; ".join(messages) or str(body.get("Message") or "validation failed"),
                messages=messages or [str(body.get("Message") or "validation failed")],
                elements=elements,
                is_validation=True,
            )
        parts = [body.get(key) for key in ("Title", "Detail", "Type", "Message") if body.get(key)]
        return ErrorDetail(detail=": ".join(str(part) for part in parts) or excerpt(response.text))

    # -- plumbing -------------------------------------------------------------------------------

    def _headers(self, modified_since: datetime | None = None) -> dict[str, str]:
        headers = {"xero-tenant-id": self.tenant_id}
        if modified_since is not None:
            headers["If-Modified-Since"] = to_utc(modified_since).strftime("%Y-%m-%dT%H:%M:%S")
        return headers

    def _unwrap(self, payload: Any, envelope: str, route: str) -> list[dict[str, Any]]:
        items = payload.get(envelope) if isinstance(payload, dict) else None
        if not isinstance(items, list):
            keys = sorted(payload)[:8] if isinstance(payload, dict) else type(payload).__name__
            raise MalformedResponseError(
                f"xero {route}: response has no {envelope!r} list (found {keys})",
                system=self.system,
                route=route,
                body_excerpt=str(keys),
            )
        return items

    def _get_list(self, resource: str, envelope: str, route: str, **params: Any) -> list[dict[str, Any]]:
        clean = {name: value for name, value in params.items() if value is not None}
        payload = self.get_json(ACCOUNTING + resource, route=route, params=clean, headers=self._headers())
        return self._unwrap(payload, envelope, route)

    def _iter_pages(
        self,
        resource: str,
        envelope: str,
        *,
        modified_since: datetime | None = None,
        params: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        clean = {name: value for name, value in (params or {}).items() if value is not None}
        return self.paginate(
            ACCOUNTING + resource,
            route=resource,
            params=clean,
            headers=self._headers(modified_since),
            records=lambda payload: self._unwrap(payload, envelope, resource),
        )

    def _send(self, method: str, resource: str, route: str, body: Any, key: str, **params: Any) -> Any:
        headers = {**self._headers(), "Idempotency-Key": key}
        response = self.request(
            method,
            ACCOUNTING + resource,
            route=route,
            params=params or None,
            json=body,
            headers=headers,
            idempotent=True,
        )
        return self.decode_json(response, route=route)

    # -- attachments (files streamed, never held whole in memory) ------------------------------

    def invoice_attachments(self, invoice_id: str) -> list[XeroAttachment]:
        """The files on an invoice or bill (``GET /Invoices/{InvoiceID}/Attachments``)."""
        route = "/Invoices/{InvoiceID}/Attachments"
        payload = self.get_json(f"{ACCOUNTING}/Invoices/{invoice_id}/Attachments", route=route, headers=self._headers())
        return [XeroAttachment.model_validate(item) for item in self._unwrap(payload, "Attachments", route)]

    def download_invoice_attachment(
        self, invoice_id: str, attachment: XeroAttachment, into: IO[bytes], *, limit: int | None = None
    ) -> int:
        """Copy one file of an invoice into ``into`` (``GET …/Attachments/{AttachmentID}``); its size."""
        mime_type = attachment.mime_type or "application/octet-stream"
        return streaming.download(
            self,
            f"{ACCOUNTING}/Invoices/{invoice_id}/Attachments/{attachment.attachment_id}",
            into,
            route="/Invoices/{InvoiceID}/Attachments/{AttachmentID}",
            limit=limit,
            headers={**self._headers(), "contentType": mime_type, "Accept": mime_type},
        )

    def upload_invoice_attachment(
        self, invoice_id: str, file_name: str, file: IO[bytes], size: int, mime_type: str, *, idempotency_key: str
    ) -> XeroAttachment:
        """Add ``file`` to an invoice as ``file_name`` (``PUT …/Attachments/{FileName}``, raw body).

        Xero keeps one file per FileName on a document, so the same name again replaces it rather
        than adding a copy; the ``Idempotency-Key`` makes a resend after a lost answer a replay.
        """
        route = "/Invoices/{InvoiceID}/Attachments/{FileName}"
        response = streaming.send_file(
            self,
            "PUT",
            f"{ACCOUNTING}/Invoices/{invoice_id}/Attachments/{quote(file_name, safe='')}",
            file,
            size,
            route=route,
            content_type=mime_type,
            headers={**self._headers(), "Idempotency-Key": idempotency_key},
        )
        items = self._unwrap(self.decode_json(response, route=route), "Attachments", route)
        if len(items) != 1:
            raise MalformedResponseError(
                f"xero PUT {route}: expected one attachment, got {len(items)}", system=self.system, route=route
            )
        return XeroAttachment.model_validate(items[0])

    # -- identity and settings ------------------------------------------------------------------

    def connections(self) -> list[XeroConnection]:
        """Tenants the token can reach (``GET /connections``; no tenant header)."""
        payload = self.get_json("/connections", route="/connections")
        if not isinstance(payload, list):
            raise MalformedResponseError(
                "xero /connections: expected a JSON array", system=self.system, route="/connections"
            )
        return [XeroConnection.model_validate(item) for item in payload]

    def organisation(self) -> Organisation:
        """The connected organisation."""
        items = self._get_list("/Organisation", "Organisations", "/Organisation")
        if not items:
            raise MalformedResponseError(
                "xero /Organisation: empty Organisations list", system=self.system, route="/Organisation"
            )
        return Organisation.model_validate(items[0])

    def accounts(self) -> list[Account]:
        """The chart of accounts."""
        return [Account.model_validate(item) for item in self._get_list("/Accounts", "Accounts", "/Accounts")]

    def tax_rates(self) -> list[TaxRate]:
        """All tax rates."""
        return [TaxRate.model_validate(item) for item in self._get_list("/TaxRates", "TaxRates", "/TaxRates")]

    # -- contacts -------------------------------------------------------------------------------

    def iter_contacts(
        self,
        *,
        modified_since: datetime | None = None,
        include_archived: bool = False,
        ids: Sequence[str] | None = None,
        where: str | None = None,
    ) -> Iterator[Contact]:
        """Contacts, streamed page by page (``ids`` are sent 50 per request)."""
        base = {"includeArchived": "true" if include_archived else None, "where": where}
        for id_params in self._id_chunks("IDs", ids):
            for item in self._iter_pages(
                "/Contacts", "Contacts", modified_since=modified_since, params=base | id_params
            ):
                yield Contact.model_validate(item)

    def contact_groups(self) -> list[ContactGroup]:
        """Active contact groups (without members)."""
        items = self._get_list("/ContactGroups", "ContactGroups", "/ContactGroups")
        return [ContactGroup.model_validate(item) for item in items]

    def contact_group(self, group_id: str) -> ContactGroup:
        """One contact group with its contacts."""
        route = "/ContactGroups/{id}"
        items = self._get_list(f"/ContactGroups/{group_id}", "ContactGroups", route)
        if not items:
            raise MalformedResponseError(f"xero {route}: empty ContactGroups list", system=self.system, route=route)
        return ContactGroup.model_validate(items[0])

    def save_contacts(
        self, items: Sequence[Contact | dict[str, Any]], *, idempotency_key: str
    ) -> list[BatchResult[Contact]]:
        """Create or update contacts (``POST /Contacts``)."""
        return self._save_batch("POST", _CONTACTS, Contact, items, idempotency_key)

    # -- tracking -------------------------------------------------------------------------------

    def tracking_categories(self, include_archived: bool = False) -> list[TrackingCategory]:
        """Tracking categories with their options."""
        items = self._get_list(
            "/TrackingCategories",
            "TrackingCategories",
            "/TrackingCategories",
            includeArchived="true" if include_archived else None,
        )
        return [TrackingCategory.model_validate(item) for item in items]

    def create_tracking_option(self, category_id: str, name: str, *, idempotency_key: str) -> TrackingOption:
        """Add an option to a category (``PUT /TrackingCategories/{id}/Options``, bare object body)."""
        route = "/TrackingCategories/{id}/Options"
        payload = self._send(
            "PUT", f"/TrackingCategories/{category_id}/Options", route, {"Name": name}, idempotency_key
        )
        return self._single(payload, "Options", route, TrackingOption)

    def update_tracking_option(
        self,
        category_id: str,
        option_id: str,
        *,
        name: str | None = None,
        status: str | None = None,
        idempotency_key: str,
    ) -> TrackingOption:
        """Rename or archive an option (``POST /TrackingCategories/{id}/Options/{optionId}``)."""
        route = "/TrackingCategories/{id}/Options/{optionId}"
        body = {key: value for key, value in (("Name", name), ("Status", status)) if value is not None}
        payload = self._send(
            "POST", f"/TrackingCategories/{category_id}/Options/{option_id}", route, body, idempotency_key
        )
        return self._single(payload, "Options", route, TrackingOption)

    # -- transactions ---------------------------------------------------------------------------

    def iter_invoices(
        self,
        *,
        modified_since: datetime | None = None,
        statuses: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        contact_ids: Sequence[str] | None = None,
        where: str | None = None,
    ) -> Iterator[Invoice]:
        """Invoices and bills with their line items, streamed page by page."""
        base = {
            "Statuses": ",".join(statuses) if statuses else None,
            "ContactIDs": ",".join(contact_ids) if contact_ids else None,
            "where": where,
        }
        for id_params in self._id_chunks("IDs", ids):
            for item in self._iter_pages(
                "/Invoices", "Invoices", modified_since=modified_since, params=base | id_params
            ):
                yield Invoice.model_validate(item)

    def get_invoices(self, ids: Sequence[str]) -> list[Invoice]:
        """The invoices with these IDs (asked for 50 at a time because of the gateway URL cap)."""
        return list(self.iter_invoices(ids=ids)) if ids else []

    def iter_credit_notes(
        self, *, modified_since: datetime | None = None, where: str | None = None
    ) -> Iterator[CreditNote]:
        """Credit notes, streamed page by page."""
        for item in self._iter_pages(
            "/CreditNotes", "CreditNotes", modified_since=modified_since, params={"where": where}
        ):
            yield CreditNote.model_validate(item)

    def iter_purchase_orders(
        self, *, modified_since: datetime | None = None, status: str | None = None
    ) -> Iterator[PurchaseOrder]:
        """Purchase orders (``Status`` filter; this endpoint has no ``where``)."""
        params = {"Status": status}
        for item in self._iter_pages("/PurchaseOrders", "PurchaseOrders", modified_since=modified_since, params=params):
            yield PurchaseOrder.model_validate(item)

    def iter_payments(self, *, modified_since: datetime | None = None, where: str | None = None) -> Iterator[Payment]:
        """Payments, streamed page by page."""
        for item in self._iter_pages("/Payments", "Payments", modified_since=modified_since, params={"where": where}):
            yield Payment.model_validate(item)

    def save_invoices(
        self, items: Sequence[Invoice | dict[str, Any]], *, idempotency_key: str
    ) -> list[BatchResult[Invoice]]:
        """Create or update invoices/bills (``POST /Invoices``)."""
        return self._save_batch("POST", _INVOICES, Invoice, items, idempotency_key)

    def save_credit_notes(
        self, items: Sequence[CreditNote | dict[str, Any]], *, idempotency_key: str
    ) -> list[BatchResult[CreditNote]]:
        """Create or update credit notes (``POST /CreditNotes``)."""
        return self._save_batch("POST", _CREDIT_NOTES, CreditNote, items, idempotency_key)

    def save_purchase_orders(
        self, items: Sequence[PurchaseOrder | dict[str, Any]], *, idempotency_key: str
    ) -> list[BatchResult[PurchaseOrder]]:
        """Create or update purchase orders (``POST /PurchaseOrders``)."""
        return self._save_batch("POST", _PURCHASE_ORDERS, PurchaseOrder, items, idempotency_key)

    def create_payments(
        self, items: Sequence[Payment | dict[str, Any]], *, idempotency_key: str
    ) -> list[BatchResult[Payment]]:
        """Create payments (``PUT /Payments``; payments cannot be updated, only deleted)."""
        return self._save_batch("PUT", _PAYMENTS, Payment, items, idempotency_key)

    def delete_payment(self, payment_id: str, *, idempotency_key: str) -> Payment:
        """Delete a payment (``POST /Payments/{id}`` with ``{"Status": "DELETED"}``)."""
        route = "/Payments/{id}"
        payload = self._send("POST", f"/Payments/{payment_id}", route, {"Status": "DELETED"}, idempotency_key)
        return self._single(payload, "Payments", route, Payment)

    # -- helpers --------------------------------------------------------------------------------

    def _id_chunks(self, name: str, ids: Sequence[str] | None) -> Iterator[dict[str, Any]]:
        if not ids:
            yield {}
            return
        for chunk in chunked(list(dict.fromkeys(ids)), BATCH_SIZE):
            yield {name: ",".join(chunk)}

    def _single(self, payload: Any, envelope: str, route: str, model: type[ModelT]) -> ModelT:
        items = self._unwrap(payload, envelope, route)
        if not items:
            raise MalformedResponseError(f"xero {route}: empty {envelope} list", system=self.system, route=route)
        return model.model_validate(items[0])

    def _save_batch(
        self,
        method: str,
        collection: Collection,
        model: type[ModelT],
        items: Sequence[ModelT | dict[str, Any]],
        idempotency_key: str,
    ) -> list[BatchResult[ModelT]]:
        wire = [item.to_wire() if isinstance(item, XeroModel) else dict(item) for item in items]
        chunks = list(chunked(wire, BATCH_SIZE))
        results: list[BatchResult[ModelT]] = []
        for chunk, key in zip(chunks, idempotency_keys(idempotency_key, len(chunks)), strict=True):
            try:
                payload = self._send(
                    method,
                    collection.path,
                    collection.path,
                    {collection.envelope: list(chunk)},
                    key,
                    summarizeErrors="false",
                )
            except ValidationFailed as failure:
                results.extend(summarised_results(chunk, failure, collection, model))
                continue
            echoed = self._unwrap(payload, collection.envelope, collection.path)
            if len(echoed) != len(chunk):
                raise MalformedResponseError(
                    f"xero {method} {collection.path}: sent {len(chunk)} elements, {len(echoed)} came back",
                    system=self.system,
                    route=collection.path,
                )
            results.extend(element_result(element, model) for element in echoed)
        return results
