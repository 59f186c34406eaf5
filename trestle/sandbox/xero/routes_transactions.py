"""Accounting routes for transactions: Invoices (bills), CreditNotes, PurchaseOrders, Payments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi import APIRouter, Request, Response

from trestle.sandbox.xero import payments as payment_rules
from trestle.sandbox.xero.documents import (
    CREDIT_NOTE,
    INVOICE,
    PURCHASE_ORDER,
    DocumentKind,
    find_document,
    present_document,
    upsert_document,
)
from trestle.sandbox.xero.query import QueryError, flag, list_param, param, run_query
from trestle.sandbox.xero.routes_setup import state_of
from trestle.sandbox.xero.state import Record, XeroState, normalise_id
from trestle.sandbox.xero.wire import BadValue, envelope, json_response, not_found, parse_date
from trestle.sandbox.xero.writes import ACCOUNTING_PREFIX, read_elements, run_batch, run_single

router = APIRouter(prefix=ACCOUNTING_PREFIX, include_in_schema=False)


def _invoice_filters(request: Request) -> Callable[[list[Record]], list[Record]]:
    """Invoices' dedicated list parameters (IDs, InvoiceNumbers, ContactIDs, Statuses, ...)."""
    ids = {normalise_id(value) for value in list_param(request, "IDs")}
    numbers = set(list_param(request, "InvoiceNumbers"))
    contact_ids = {normalise_id(value) for value in list_param(request, "ContactIDs")}
    statuses = {value.upper() for value in list_param(request, "Statuses")}
    mine = flag(request, "createdByMyApp")
    term = (param(request, "searchTerm") or "").strip().casefold()

    def narrow(rows: list[Record]) -> list[Record]:
        return [
            row
            for row in rows
            if (not ids or row["InvoiceID"] in ids)
            and (not numbers or row.get("InvoiceNumber") in numbers)
            and (not contact_ids or row.get("_contact_id") in contact_ids)
            and (not statuses or row["Status"] in statuses)
            and (not mine or row.get("_created_by_api"))
            and (not term or term in f"{row.get('InvoiceNumber', '')} {row.get('Reference', '')}".casefold())
        ]

    return narrow


def _date_param(request: Request, name: str) -> date | None:
    value = param(request, name)
    if not value:
        return None
    try:
        return parse_date(value, name)
    except BadValue as exc:
        raise QueryError(str(exc)) from exc


def _purchase_order_filters(request: Request) -> Callable[[list[Record]], list[Record]]:
    """PurchaseOrders filter with Status, DateFrom and DateTo instead of ``where``."""
    status = (param(request, "Status") or "").upper()
    date_from, date_to = _date_param(request, "DateFrom"), _date_param(request, "DateTo")

    def narrow(rows: list[Record]) -> list[Record]:
        return [
            row
            for row in rows
            if (not status or row["Status"] == status)
            and (date_from is None or row["Date"] >= date_from)
            and (date_to is None or row["Date"] <= date_to)
        ]

    return narrow


def _register_document_routes(kind: DocumentKind, plural: str, path: str) -> None:
    """GET/PUT/POST on the collection and GET/POST on one document, for one document kind."""

    def present(state: XeroState, with_lines: bool = True) -> Callable[[Record], Record]:
        return lambda doc: present_document(state, kind, doc, with_lines=with_lines)

    async def list_documents(request: Request) -> Response:
        state = state_of(request)
        paged = param(request, "page") is not None
        # Unpaged invoice and credit note lists come back without LineItems, as Xero's do.
        with_lines = (paged or kind is PURCHASE_ORDER) and not flag(request, "summaryOnly")
        if kind is INVOICE:
            narrow = _invoice_filters(request)
        elif kind is PURCHASE_ORDER:
            narrow = _purchase_order_filters(request)
        else:
            narrow = None
        page = run_query(
            request,
            getattr(state, kind.store).values(),
            present=present(state, with_lines),
            pre_filter=narrow,
            supports_where=kind is not PURCHASE_ORDER,
        )
        extra = {"pagination": page.pagination} if page.pagination is not None else {}
        return json_response(envelope(plural, page.items, **extra))

    async def get_document(key: str, request: Request) -> Response:
        state = state_of(request)
        doc = find_document(state, kind, key)
        return json_response(envelope(plural, [present(state)(doc)])) if doc else not_found()

    async def write(request: Request, allow_update: bool) -> Response:
        state = state_of(request)
        elements = await read_elements(request, plural)
        return run_batch(
            request,
            plural,
            elements,
            lambda element: upsert_document(state, kind, element, allow_update=allow_update),
            present(state),
            flag=kind.error_flag,
        )

    async def create_documents(request: Request) -> Response:
        return await write(request, allow_update=False)

    async def create_or_update_documents(request: Request) -> Response:
        return await write(request, allow_update=True)

    async def update_document(key: str, request: Request) -> Response:
        state = state_of(request)
        doc = find_document(state, kind, key)
        if doc is None:
            return not_found()
        elements = await read_elements(request, plural)
        return run_single(
            plural,
            elements[0] if elements else {},
            lambda element: upsert_document(state, kind, element, allow_update=True, force_id=doc[kind.id_key]),
            present(state),
            flag=kind.error_flag,
        )

    router.add_api_route(f"/{path}", list_documents, methods=["GET"], name=f"list_{kind.store}")
    router.add_api_route(f"/{path}", create_documents, methods=["PUT"], name=f"create_{kind.store}")
    router.add_api_route(f"/{path}", create_or_update_documents, methods=["POST"], name=f"upsert_{kind.store}")
    router.add_api_route(f"/{path}/{{key}}", get_document, methods=["GET"], name=f"get_{kind.store}")
    router.add_api_route(f"/{path}/{{key}}", update_document, methods=["POST"], name=f"update_{kind.store}")


_register_document_routes(INVOICE, "Invoices", "Invoices")
_register_document_routes(CREDIT_NOTE, "CreditNotes", "CreditNotes")
_register_document_routes(PURCHASE_ORDER, "PurchaseOrders", "PurchaseOrders")


# -- payments ----------------------------------------------------------------------------


@router.get("/Payments")
async def list_payments(request: Request) -> Response:
    """Payments, paged; If-Modified-Since and where apply."""
    state = state_of(request)
    page = run_query(
        request, state.payments.values(), present=lambda payment: payment_rules.present_payment(state, payment)
    )
    extra = {"pagination": page.pagination} if page.pagination is not None else {}
    return json_response(envelope("Payments", page.items, **extra))


@router.get("/Payments/{payment_id}")
async def get_payment(payment_id: str, request: Request) -> Response:
    state = state_of(request)
    payment = state.payments.get(normalise_id(payment_id))
    if payment is None:
        return not_found()
    return json_response(envelope("Payments", [payment_rules.present_payment(state, payment)]))


async def _create_payments(request: Request) -> Response:
    state = state_of(request)
    elements = await read_elements(request, "Payments", bare_ok=True)
    return run_batch(
        request,
        "Payments",
        elements,
        lambda element: payment_rules.create_payment(state, element),
        lambda payment: payment_rules.present_payment(state, payment),
        flag="HasValidationErrors",
    )


@router.put("/Payments")
async def create_payments(request: Request) -> Response:
    """Create payments (wrapped list, or one bare payment)."""
    return await _create_payments(request)


@router.post("/Payments")
async def post_payments(request: Request) -> Response:
    """Create payments; POST also takes a single bare payment object."""
    return await _create_payments(request)


@router.post("/Payments/{payment_id}")
async def delete_payment(payment_id: str, request: Request) -> Response:
    """Delete a payment with ``{"Status": "DELETED"}`` (bare or wrapped in ``Payments``)."""
    state = state_of(request)
    payment = state.payments.get(normalise_id(payment_id))
    if payment is None:
        return not_found()
    elements = await read_elements(request, "Payments", bare_ok=True)
    return run_single(
        "Payments",
        elements[0] if elements else {},
        lambda element: payment_rules.delete_payment(state, payment, element),
        lambda record: payment_rules.present_payment(state, record),
        flag="HasValidationErrors",
    )
