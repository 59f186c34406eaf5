"""Pydantic models of the Xero Accounting API objects Trestle reads and writes.

Field names are snake_case in Python and PascalCase on the wire (aliases; ``populate_by_name``
lets code build models either way). Dates arrive as ``/Date(ms±hhmm)/`` and are parsed with
:mod:`trestle.models.msdate` (ISO strings are accepted too). Money is :class:`~decimal.Decimal`.
Enum-like fields (Status, Type, TaxNumberType, …) are plain ``str`` so a value Xero adds or
formats differently (``TAXNUMBERTYPE/EIN``) never crashes a run. Unknown fields are ignored.

``to_wire()`` produces a request body: aliases, no None values, dates as ``YYYY-MM-DD``,
money as JSON numbers. A wrongly typed field leaves its record readable and named
(:mod:`trestle.models.unreadable`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainSerializer,
    PrivateAttr,
    model_validator,
)
from pydantic.alias_generators import to_camel, to_pascal

from trestle.jsonable import exact_number
from trestle.models.msdate import is_ms_date, parse_ms_date, parse_ms_datetime
from trestle.models.unreadable import FieldProblem, read_tolerantly, strictly


def _xero_date(value: Any) -> Any:
    if isinstance(value, str) and is_ms_date(value):
        return parse_ms_date(value)
    if isinstance(value, str) and "T" in value:
        return value.split("T", 1)[0]
    return value


def _xero_datetime(value: Any) -> Any:
    if isinstance(value, str) and is_ms_date(value):
        return parse_ms_datetime(value)
    return value


XeroDate = Annotated[date, BeforeValidator(_xero_date)]
"""A date-only field: ``/Date()/`` read in the offset it carries, or ``YYYY-MM-DD``."""

XeroDateTime = Annotated[datetime, BeforeValidator(_xero_datetime)]
"""A timestamp: ``/Date()/`` (aware, in its offset) or ISO-8601."""

Money = Annotated[Decimal, PlainSerializer(exact_number, return_type=float, when_used="json")]
"""An exact amount, written to the wire as a JSON number."""


class XeroModel(BaseModel):
    """Base of every Xero model: PascalCase aliases, unknown fields ignored, a wrongly typed field kept aside.

    A record with a field it cannot read parses without that field and lists it in
    ``_unreadable`` (:mod:`trestle.models.unreadable`); its own id (``ContactID`` for a
    ``Contact``) must still be readable.
    """

    model_config = ConfigDict(
        alias_generator=to_pascal, populate_by_name=True, extra="ignore", hide_input_in_errors=True
    )
    _unreadable: tuple[FieldProblem, ...] = PrivateAttr(default=())

    def __init__(self, /, **data: Any) -> None:
        with strictly():  # built in code: a bad value is a bug to raise, not a field to leave out
            super().__init__(**data)

    @model_validator(mode="wrap")
    @classmethod
    def _read_tolerantly(cls, value: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        return read_tolerantly(cls, value, handler, f"{cls.__name__}ID")

    def to_wire(self) -> dict[str, Any]:
        """The request-body form: aliases, no None, ``YYYY-MM-DD`` dates, numeric money."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ValidationMessage(XeroModel):
    """One entry of ``ValidationErrors`` or ``Warnings``."""

    message: str = ""


class WriteEcho(XeroModel):
    """Fields Xero adds to each element it echoes back from a write."""

    status_attribute_string: str | None = None
    has_errors: bool | None = None
    has_validation_errors: bool | None = None
    validation_errors: list[ValidationMessage] | None = None
    warnings: list[ValidationMessage] | None = None


class XeroConnection(BaseModel):
    """One tenant a token can reach (``GET /connections``, camelCase)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    id: str
    tenant_id: str
    tenant_type: str | None = None
    tenant_name: str | None = None
    auth_event_id: str | None = None
    created_date_utc: datetime | None = None
    updated_date_utc: datetime | None = None


class Organisation(XeroModel):
    """The connected organisation."""

    organisation_id: str | None = Field(default=None, alias="OrganisationID")
    name: str | None = None
    legal_name: str | None = None
    short_code: str | None = None
    version: str | None = None
    base_currency: str | None = None
    country_code: str | None = None
    is_demo_company: bool | None = None
    organisation_status: str | None = None
    timezone: str | None = None


class Account(XeroModel):
    """A chart-of-accounts entry."""

    account_id: str | None = Field(default=None, alias="AccountID")
    code: str | None = None
    name: str | None = None
    type: str | None = None
    status: str | None = None
    class_: str | None = Field(default=None, alias="Class")
    tax_type: str | None = None
    enable_payments_to_account: bool | None = None
    bank_account_type: str | None = None
    currency_code: str | None = None
    system_account: str | None = None


class TaxComponent(XeroModel):
    """One component of a tax rate."""

    name: str | None = None
    rate: Decimal | None = None
    is_compound: bool | None = None
    is_non_recoverable: bool | None = None


class TaxRate(XeroModel):
    """A tax rate; ``tax_type`` is the code line items use."""

    name: str | None = None
    tax_type: str | None = None
    status: str | None = None
    report_tax_type: str | None = None
    effective_rate: Decimal | None = None
    display_tax_rate: Decimal | None = None
    tax_components: list[TaxComponent] | None = None


class Address(XeroModel):
    """A postal or street address."""

    address_type: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    address_line3: str | None = None
    address_line4: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    attention_to: str | None = None


class Phone(XeroModel):
    """A phone entry."""

    phone_type: str | None = None
    phone_number: str | None = None
    phone_area_code: str | None = None
    phone_country_code: str | None = None


class ContactGroupRef(XeroModel):
    """A group a contact belongs to."""

    contact_group_id: str | None = Field(default=None, alias="ContactGroupID")
    name: str | None = None
    status: str | None = None


class PaymentTerm(XeroModel):
    """When a contact's bills or sales invoices fall due: ``Day`` and a ``Type`` such as DAYSAFTERBILLDATE."""

    day: int | None = None
    type: str | None = None


class PaymentTerms(XeroModel):
    """A contact's default payment terms for bills and for sales invoices."""

    bills: PaymentTerm | None = None
    sales: PaymentTerm | None = None


class Contact(WriteEcho):
    """A customer or supplier."""

    contact_id: str | None = Field(default=None, alias="ContactID")
    contact_number: str | None = None
    account_number: str | None = None
    contact_status: str | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email_address: str | None = None
    tax_number: str | None = None
    tax_number_type: str | None = None
    accounts_payable_tax_type: str | None = None
    default_currency: str | None = None
    is_supplier: bool | None = None
    is_customer: bool | None = None
    addresses: list[Address] | None = None
    phones: list[Phone] | None = None
    contact_groups: list[ContactGroupRef] | None = None
    merged_to_contact_id: str | None = Field(default=None, alias="MergedToContactID")
    payment_terms: PaymentTerms | None = None
    updated_date_utc: XeroDateTime | None = Field(default=None, alias="UpdatedDateUTC")


class ContactGroup(XeroModel):
    """A contact group; ``contacts`` is filled only by a GET of one group."""

    contact_group_id: str | None = Field(default=None, alias="ContactGroupID")
    name: str | None = None
    status: str | None = None
    contacts: list[Contact] | None = None


class TrackingOption(WriteEcho):
    """An option of a tracking category (Trestle: one per project)."""

    tracking_option_id: str | None = Field(default=None, alias="TrackingOptionID")
    name: str | None = None
    status: str | None = None


class TrackingCategory(XeroModel):
    """A tracking category and its options."""

    tracking_category_id: str | None = Field(default=None, alias="TrackingCategoryID")
    name: str | None = None
    status: str | None = None
    options: list[TrackingOption] | None = None


class LineItemTracking(XeroModel):
    """Tracking on a line: send ``name`` (category) and ``option`` (option name)."""

    tracking_category_id: str | None = Field(default=None, alias="TrackingCategoryID")
    tracking_option_id: str | None = Field(default=None, alias="TrackingOptionID")
    name: str | None = None
    option: str | None = None


class LineItem(XeroModel):
    """A line of an invoice, credit note or purchase order."""

    line_item_id: str | None = Field(default=None, alias="LineItemID")
    description: str | None = None
    quantity: Money | None = None
    unit_amount: Money | None = None
    line_amount: Money | None = None
    tax_amount: Money | None = None
    account_code: str | None = None
    account_id: str | None = Field(default=None, alias="AccountID")
    item_code: str | None = None
    tax_type: str | None = None
    tracking: list[LineItemTracking] | None = None


class InvoiceRef(XeroModel):
    """The invoice a payment applies to."""

    invoice_id: str | None = Field(default=None, alias="InvoiceID")
    invoice_number: str | None = None
    type: str | None = None


class CreditNoteRef(XeroModel):
    """The credit note a payment applies to."""

    credit_note_id: str | None = Field(default=None, alias="CreditNoteID")
    credit_note_number: str | None = None


class AccountRef(XeroModel):
    """The account a payment is made from."""

    account_id: str | None = Field(default=None, alias="AccountID")
    code: str | None = None


class Payment(WriteEcho):
    """A payment against an invoice or credit note (cannot be edited, only deleted)."""

    payment_id: str | None = Field(default=None, alias="PaymentID")
    invoice: InvoiceRef | None = None
    credit_note: CreditNoteRef | None = None
    account: AccountRef | None = None
    date: XeroDate | None = None
    amount: Money | None = None
    bank_amount: Money | None = None
    currency_rate: Money | None = None
    reference: str | None = None
    is_reconciled: bool | None = None
    status: str | None = None
    payment_type: str | None = None
    batch_payment_id: str | None = Field(default=None, alias="BatchPaymentID")
    updated_date_utc: XeroDateTime | None = Field(default=None, alias="UpdatedDateUTC")


class _Transaction(WriteEcho):
    """Fields invoices, credit notes and purchase orders share."""

    type: str | None = None
    contact: Contact | None = None
    date: XeroDate | None = None
    status: str | None = None
    line_amount_types: str | None = None
    line_items: list[LineItem] | None = None
    sub_total: Money | None = None
    total_tax: Money | None = None
    total: Money | None = None
    currency_code: str | None = None
    currency_rate: Money | None = None
    reference: str | None = None
    updated_date_utc: XeroDateTime | None = Field(default=None, alias="UpdatedDateUTC")


class Invoice(_Transaction):
    """A sales invoice (``ACCREC``) or bill (``ACCPAY``)."""

    invoice_id: str | None = Field(default=None, alias="InvoiceID")
    invoice_number: str | None = None
    due_date: XeroDate | None = None
    amount_due: Money | None = None
    amount_paid: Money | None = None
    amount_credited: Money | None = None
    fully_paid_on_date: XeroDate | None = None
    planned_payment_date: XeroDate | None = None
    payments: list[Payment] | None = None
    url: str | None = None
    has_attachments: bool | None = None
    sent_to_contact: bool | None = None


class CreditNote(_Transaction):
    """A credit note (``ACCPAYCREDIT`` from a supplier, ``ACCRECCREDIT`` to a customer)."""

    credit_note_id: str | None = Field(default=None, alias="CreditNoteID")
    credit_note_number: str | None = None
    remaining_credit: Money | None = None
    fully_paid_on_date: XeroDate | None = None


class PurchaseOrder(_Transaction):
    """A purchase order."""

    purchase_order_id: str | None = Field(default=None, alias="PurchaseOrderID")
    purchase_order_number: str | None = None
    delivery_date: XeroDate | None = None
    expected_arrival_date: XeroDate | None = None
    sent_to_contact: bool | None = None
