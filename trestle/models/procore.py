"""Pydantic models of the Procore REST API (v1.0/v1.1) objects Trestle reads and writes.

Procore is snake_case on the wire, ids are (possibly > 32-bit) integers, money is a JSON string
(``"250.0"``) parsed to :class:`~decimal.Decimal`, dates are ``YYYY-MM-DD`` and timestamps ISO-8601.
Status-like fields are ``str`` so a new server value never crashes a run; unknown fields are ignored;
a wrongly typed field leaves its record readable and named (:mod:`trestle.models.unreadable`).
``to_wire()`` gives a request body with money as strings and no None values.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    model_validator,
)

from trestle.models.unreadable import FieldProblem, read_tolerantly, strictly


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Money = Annotated[Decimal | None, BeforeValidator(_blank_to_none)]
"""An exact amount; Procore sends and accepts it as a string."""

OptionalDate = Annotated[date | None, BeforeValidator(_blank_to_none)]
OptionalDateTime = Annotated[datetime | None, BeforeValidator(_blank_to_none)]


class ProcoreModel(BaseModel):
    """Base of every Procore model: unknown fields ignored, a wrongly typed field kept aside.

    A record with a field it cannot read parses without that field and lists it in
    ``_unreadable`` (:mod:`trestle.models.unreadable`), so one bad record never loses its page.
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore", hide_input_in_errors=True)
    identity: ClassVar[str] = "id"
    _unreadable: tuple[FieldProblem, ...] = PrivateAttr(default=())

    def __init__(self, /, **data: Any) -> None:
        with strictly():  # built in code: a bad value is a bug to raise, not a field to leave out
            super().__init__(**data)

    @model_validator(mode="wrap")
    @classmethod
    def _read_tolerantly(cls, value: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        return read_tolerantly(cls, value, handler, cls.identity)

    def to_wire(self) -> dict[str, Any]:
        """The request-body form: no None, money as strings, ISO dates."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Company(ProcoreModel):
    """A company the token can reach."""

    id: int
    name: str | None = None
    is_active: bool | None = None


class Me(ProcoreModel):
    """The authenticated user or service account."""

    id: int
    login: str | None = None
    name: str | None = None


class Ref(ProcoreModel):
    """A nested ``{id, name}`` reference."""

    id: int | None = None
    name: str | None = None


class ProjectStage(ProcoreModel):
    """A company's project stage."""

    id: int
    name: str | None = None
    category: str | None = None


class Project(ProcoreModel):
    """A project (v1.1 list adds ``project_number`` and ``stage``)."""

    id: int
    name: str | None = None
    display_name: str | None = None
    project_number: str | None = None
    active: bool | None = None
    stage: str | None = None
    project_stage: Ref | None = None
    origin_id: str | None = None
    origin_data: str | None = None
    origin_code: str | None = None
    standard_cost_code_list_id: int | None = None
    accounting_project_number: str | None = None
    company: Ref | None = None
    created_at: OptionalDateTime = None
    updated_at: OptionalDateTime = None


class Vendor(ProcoreModel):
    """A company directory vendor; also the shape of a vendor sync update."""

    id: int | None = None
    name: str | None = None
    abbreviated_name: str | None = None
    trade_name: str | None = None
    legal_name: str | None = None
    is_active: bool | None = None
    address: str | None = None
    city: str | None = None
    state_code: str | None = None
    zip: str | None = None
    country_code: str | None = None
    business_phone: str | None = None
    mobile_phone: str | None = None
    fax_number: str | None = None
    email_address: str | None = None
    website: str | None = None
    license_number: str | None = None
    business_id: str | None = None
    notes: str | None = None
    origin_id: str | None = None
    origin_data: str | None = None
    origin_code: str | None = None
    synced_to_erp: bool | None = None
    created_at: OptionalDateTime = None
    updated_at: OptionalDateTime = None


class StandardCostCodeList(ProcoreModel):
    """A company cost code list (the ERP one has ``is_erp_list``)."""

    id: int
    name: str | None = None
    is_erp_list: bool | None = None
    available_to_use_on_new_projects: bool | None = None


class StandardCostCode(ProcoreModel):
    """A company-level cost code."""

    id: int | None = None
    standard_cost_code_list_id: int | None = None
    parent_id: int | None = None
    code: str | None = None
    full_code: str | None = None
    name: str | None = None
    origin_id: str | None = None
    origin_data: str | None = None


class CostCodeRef(ProcoreModel):
    """A cost code nested in a line item."""

    id: int | None = None
    code: str | None = None
    full_code: str | None = None
    name: str | None = None


class CostCode(ProcoreModel):
    """A project cost code."""

    id: int
    code: str | None = None
    full_code: str | None = None
    name: str | None = None
    parent: Ref | None = None
    standard_cost_code_id: int | None = None
    origin_id: str | None = None
    origin_data: str | None = None
    deleted_at: OptionalDateTime = None


class TaxCode(ProcoreModel):
    """A company tax code."""

    id: int
    code: str | None = None
    description: str | None = None
    rate1: Money | None = None
    archived: bool | None = None
    default_tax_code: bool | None = None
    origin_id: str | None = None


class VendorRef(ProcoreModel):
    """The vendor nested in a commitment or direct cost."""

    id: int | None = None
    name: str | None = None
    company: str | None = None
    origin_id: str | None = None
    origin_data: str | None = None


def _vendor_name_to_ref(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


ListOrShowVendor = Annotated[VendorRef | None, BeforeValidator(_vendor_name_to_ref)]
"""The direct cost list sends ``vendor`` as the vendor's name (a string); show sends ``{id, name}``."""


class CommitmentLineItem(ProcoreModel):
    """A schedule-of-values line of a commitment."""

    id: int | None = None
    description: str | None = None
    amount: Money | None = None
    total_amount: Money | None = None
    quantity: Money | None = None
    unit_cost: Money | None = None
    uom: str | None = None
    position: int | None = None
    cost_code: CostCodeRef | None = None
    cost_code_id: int | None = None
    line_item_type: Ref | None = None
    tax_code_id: int | None = None
    origin_id: str | None = None


class ContractPayment(ProcoreModel):
    """A payment issued on a commitment; also the create body (``contract_payment``)."""

    id: int | None = None
    contract_id: int | None = None
    project_id: int | None = None
    requisition_id: int | None = None
    date: OptionalDate = None
    amount: Money | None = None
    invoice_number: str | None = None
    invoice_date: OptionalDate = None
    check_number: str | None = None
    payment_number: int | None = None
    payment_method: str | None = None
    draw_request_number: int | None = None
    notes: str | None = None
    status: str | None = None
    origin_id: str | None = None
    origin_code: str | None = None
    origin_data: str | None = None
    created_at: OptionalDateTime = None
    updated_at: OptionalDateTime = None


class Commitment(ProcoreModel):
    """A work order (subcontract) or purchase order contract; show adds lines and payments."""

    id: int
    number: str | None = None
    title: str | None = None
    status: str | None = None
    type: str | None = None
    description: str | None = None
    executed: bool | None = None
    vendor: VendorRef | None = None
    grand_total: Money | None = None
    revised_contract: Money | None = None
    approved_change_orders: Money | None = None
    pending_change_orders: Money | None = None
    total_payments: Money | None = None
    percentage_paid: Money | None = None
    remaining_balance_outstanding: Money | None = None
    retainage_percent: Money | None = None
    contract_date: OptionalDate = None
    delivery_date: OptionalDate = None  # purchase order contracts
    contract_estimated_completion_date: OptionalDate = None  # work order contracts
    origin_id: str | None = None
    origin_code: str | None = None
    origin_data: str | None = None
    deleted_at: OptionalDateTime = None
    created_at: OptionalDateTime = None
    updated_at: OptionalDateTime = None
    line_items: list[CommitmentLineItem] | None = None
    payments_issued: list[ContractPayment] | None = None


class CommitmentChangeOrder(ProcoreModel):
    """A commitment change order (projects with 1- or 2-tier change orders); show adds ``line_items``.

    ``contract_id`` is the commitment it changes; ``status`` is one of Procore's change order
    statuses (``draft``, ``pending``, ``approved``, ``void``…). Lines are shaped like the
    commitment's schedule-of-values lines.
    """

    id: int
    contract_id: int | None = None
    number: str | None = None
    title: str | None = None
    status: str | None = None
    reviewed_at: OptionalDateTime = None
    deleted_at: OptionalDateTime = None
    created_at: OptionalDateTime = None
    updated_at: OptionalDateTime = None
    line_items: list[CommitmentLineItem] | None = None


class RequisitionSummary(ProcoreModel):
    """The G702-style totals of a subcontractor invoice."""

    original_contract_sum: Money | None = None
    net_change_by_change_orders: Money | None = None
    contract_sum_to_date: Money | None = None
    total_completed_and_stored_to_date: Money | None = None
    total_retainage: Money | None = None
    total_earned_less_retainage: Money | None = None
    less_previous_certificates_for_payment: Money | None = None
    current_payment_due: Money | None = None
    balance_to_finish_including_retainage: Money | None = None
    tax_applicable_to_this_payment: Money | None = None


class RequisitionItem(ProcoreModel):
    """One contract item of a subcontractor invoice (v1.1 ``items``): what was billed on one SOV line."""

    id: int | None = None
    item_type: str | None = None
    cost_code_id: int | None = None
    line_item_id: int | None = None
    description_of_work: str | None = None
    scheduled_value: Money | None = None
    work_completed_this_period: Money | None = None
    materials_presently_stored: Money | None = None
    gross_amount: Money | None = None
    net_amount: Money | None = None
    work_completed_retainage_retained_this_period: Money | None = None
    materials_stored_retainage_currently_retained: Money | None = None
    position: int | None = None
    line_number: str | None = None  # a string in Procore's schema ("1", not 1)


class ProcoreAttachment(ProcoreModel):
    """A file on a Procore record; ``url`` is a pre-signed storage link (a credential while it lives)."""

    id: int
    url: str | None = Field(default=None, repr=False)
    filename: str | None = None
    content_type: str | None = None


class Requisition(ProcoreModel):
    """A subcontractor invoice (the API still calls it requisition; v1.1)."""

    id: int
    number: int | None = None
    invoice_number: str | None = None
    project_id: int | None = None
    commitment_id: int | None = None
    commitment_type: str | None = None
    contract_name: str | None = None
    vendor_id: int | None = None
    vendor_name: str | None = None
    period_id: int | None = None
    requisition_start: OptionalDate = None
    requisition_end: OptionalDate = None
    billing_date: OptionalDate = None
    payment_date: OptionalDate = None
    submitted_at: OptionalDateTime = None
    final: bool | None = None
    status: str | None = None
    erp_status: str | None = None
    percent_complete: Money | None = None
    total_claimed_amount: Money | None = None
    origin_id: str | None = None
    origin_data: str | None = None
    summary: RequisitionSummary | None = None
    items: list[RequisitionItem] | None = None
    attachments: list[ProcoreAttachment] | None = None
    created_at: OptionalDateTime = None
    updated_at: OptionalDateTime = None


class LineCostCode(ProcoreModel):
    """The cost code a direct cost line answers with (``cost_code: {id, …}``)."""

    id: int | None = None


class LineHolder(ProcoreModel):
    """What a line read on its own belongs to (``holder: {id, holder_type}``): its direct cost."""

    id: int | None = None
    holder_type: str | None = None


class LineItemType(ProcoreModel):
    """A company cost type (``GET /rest/v1.0/line_item_types``), such as ``O`` Other."""

    id: int
    name: str | None = None
    code: str | None = None
    base_type: str | None = None
    origin_id: str | None = None


class DirectCostLineItem(ProcoreModel):
    """A line of a direct cost: a line write's body, or a line read back (``cost_code`` as an object)."""

    id: int | None = None
    amount: Money | None = None
    description: str | None = None
    cost_code_id: int | None = None
    cost_code: LineCostCode | None = None
    line_item_type_id: int | None = None
    tax_code_id: int | None = None
    quantity: Money | None = None
    unit_cost: Money | None = None
    uom: str | None = None
    origin_id: str | None = None
    #: The direct cost a new line goes to, in a line sync's body (its answer names it as ``holder``).
    direct_cost_id: int | None = None
    holder: LineHolder | None = None


class DirectCost(ProcoreModel):
    """A direct cost (invoice, expense, payroll); also the v1.1 create body."""

    id: int | None = None
    direct_cost_type: str | None = None
    status: str | None = None
    invoice_number: str | None = None
    direct_cost_date: OptionalDate = None
    received_date: OptionalDate = None
    payment_date: OptionalDate = None
    terms: str | None = None
    description: str | None = None
    vendor: ListOrShowVendor = None
    vendor_id: int | None = None
    vendor_name: str | None = None
    amount: Money | None = None
    grand_total: Money | None = None
    origin_id: str | None = None
    origin_data: str | None = None
    line_items: list[DirectCostLineItem] | None = None
    attachments: list[ProcoreAttachment] | None = None
    created_at: OptionalDateTime = None
    updated_at: OptionalDateTime = None
    deleted_at: OptionalDateTime = None


class SyncError(ProcoreModel):
    """One rejected element of a sync call: the echoed input plus ``errors`` per attribute."""

    id: int | None = None
    origin_id: str | None = None
    origin_data: str | None = None
    errors: dict[str, list[str]] | list[str] | str = Field(default_factory=dict)

    @property
    def messages(self) -> list[str]:
        """The errors as readable sentences (``"id: Entity with this ID not found"``)."""
        if isinstance(self.errors, str):
            return [self.errors]
        if isinstance(self.errors, list):
            return [str(message) for message in self.errors]
        return [f"{field}: {message}" for field, messages in self.errors.items() for message in messages]
