"""Xero-only control routes: ``POST /_sandbox/simulate/payments`` (the accountant paying bills).

It pays, deterministically for its ``seed``, a ``share`` of the AUTHORISED ACCPAY bills that
were created through the API (seeded bills are left alone), a ``partial_share`` of those only
in part (half of what is due, rounded to cents), from the bank account 090.

``POST /_sandbox/rate-limits/day`` with ``{"day_remaining": N}`` leaves N calls in the day's
budget (``null`` goes back to the normal day window); see :mod:`trestle.sandbox.xero.limits`.

``POST /_sandbox/attachments`` with ``{"documents": N}`` puts the seeded bill files on N more bills
(:func:`trestle.sandbox.attachments_seed.seed_bill_attachments`).
"""

from __future__ import annotations

import random
from decimal import Decimal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from trestle.sandbox.attachments_seed import seed_bill_attachments
from trestle.sandbox.xero.payments import create_payment
from trestle.sandbox.xero.seed import BANK_ACCOUNT_CODE
from trestle.sandbox.xero.state import Record, XeroState
from trestle.sandbox.xero.wire import json_response, money

router = APIRouter(include_in_schema=False)


class SimulatePayments(BaseModel):
    share: float = Field(0.6, ge=0, le=1, description="share of eligible bills to pay")
    partial_share: float = Field(0.3, ge=0, le=1, description="share of the paid bills paid only in part")
    seed: int = 1


def simulate_payments(state: XeroState, request: SimulatePayments) -> list[Record]:
    """Pay the chosen bills; returns one line per payment made."""
    eligible = [
        bill
        for bill in state.invoices.values()
        if bill.get("Type") == "ACCPAY"
        and bill["Status"] == "AUTHORISED"
        and bill.get("_created_by_api")
        and bill["AmountDue"] > 0
    ]
    rng = random.Random(request.seed)
    chosen = rng.sample(eligible, k=round(len(eligible) * request.share))
    partial_count = round(len(chosen) * request.partial_share)
    paid: list[Record] = []
    for index, bill in enumerate(chosen):
        partial = index < partial_count
        amount = money(bill["AmountDue"] / Decimal(2)) if partial else bill["AmountDue"]
        payment = create_payment(
            state,
            {
                "Invoice": {"InvoiceID": bill["InvoiceID"]},
                "Account": {"Code": BANK_ACCOUNT_CODE},
                "Amount": amount,
                "Date": state.today().isoformat(),
                "Reference": "Simulated payment",
            },
        )
        paid.append(
            {
                "InvoiceID": bill["InvoiceID"],
                "InvoiceNumber": bill.get("InvoiceNumber"),
                "PaymentID": payment["PaymentID"],
                "Amount": amount,
                "Partial": partial,
                "Status": bill["Status"],
                "AmountDue": bill["AmountDue"],
            }
        )
    return paid


@router.post("/_sandbox/simulate/payments")
async def simulate_payments_route(body: SimulatePayments, request: Request) -> Response:
    """Control-plane stand-in for the accountant paying bills between runs."""
    paid = simulate_payments(request.app.state.xero, body)
    return json_response({"paid": paid, "count": len(paid)})


class DayBudget(BaseModel):
    day_remaining: int | None = Field(description="calls left today for every tenant; null: the normal day window")


@router.post("/_sandbox/rate-limits/day")
async def day_budget_route(body: DayBudget, request: Request) -> Response:
    """Control-plane way to make Xero's daily limit run out after N more calls."""
    request.app.state.xero_limiter.set_day_remaining(body.day_remaining)
    return json_response({"day_remaining": body.day_remaining})


class SeedAttachments(BaseModel):
    documents: int = Field(ge=0, le=100, description="more bills to give the seeded files (next eligible ones)")


@router.post("/_sandbox/attachments")
async def seed_attachments_route(body: SeedAttachments, request: Request) -> Response:
    """Control-plane way to put files on more seeded bills (the chaos suite's attachment writes)."""
    filed = seed_bill_attachments(request.app.state.xero, body.documents)
    return json_response({"documents": filed})
