"""The simulated Xero organisation: every entity, kept as wire-shaped dicts of native values.

One :class:`XeroState` is one tenant. Entities live in insertion-ordered dicts keyed by their
ID, which is also the default listing order (stable while records change, so paging is
consistent). Keys starting with ``_`` are simulator bookkeeping and never leave the process.
The business rules live beside this module (``contacts``, ``tracking``, ``documents``,
``payments``); they mutate a state only after an element has fully validated.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

Record = dict[str, Any]


class ElementInvalid(Exception):
    """One element of a write failed validation; ``messages`` are Xero-style sentences."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class Problems:
    """Collects validation messages for one element, so all of them are reported at once."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        if message not in self.messages:
            self.messages.append(message)

    def raise_if_any(self) -> None:
        if self.messages:
            raise ElementInvalid(self.messages)


@dataclass
class StoredResponse:
    """A write's answer kept for ``Idempotency-Key`` replay."""

    fingerprint: str
    status_code: int
    body: bytes
    media_type: str


@dataclass
class XeroState:
    """All records of the one simulated organisation (tenant)."""

    tenant_id: str
    organisation: Record
    accounts: dict[str, Record] = field(default_factory=dict)
    tax_rates: dict[str, Record] = field(default_factory=dict)
    contacts: dict[str, Record] = field(default_factory=dict)
    contact_groups: dict[str, Record] = field(default_factory=dict)
    tracking_categories: dict[str, Record] = field(default_factory=dict)
    invoices: dict[str, Record] = field(default_factory=dict)
    credit_notes: dict[str, Record] = field(default_factory=dict)
    purchase_orders: dict[str, Record] = field(default_factory=dict)
    payments: dict[str, Record] = field(default_factory=dict)
    idempotency: dict[str, StoredResponse] = field(default_factory=dict)
    connected: bool = True
    connection_created: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_stamp: datetime = field(default_factory=lambda: datetime(1970, 1, 1, tzinfo=UTC))
    sequences: dict[str, int] = field(default_factory=dict)
    revision: int = 0

    def stamp(self) -> datetime:
        """A fresh ``UpdatedDateUTC``: now at millisecond precision, strictly after the last one."""
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if now <= self.last_stamp:
            now = self.last_stamp + timedelta(milliseconds=1)
        self.last_stamp = now
        return now

    def today(self) -> date:
        """The organisation's current date (UTC is close enough for the simulator)."""
        return datetime.now(UTC).date()

    def changed(self) -> None:
        """Note that something was written (drives the debounced save)."""
        self.revision += 1

    def next_number(self, prefix: str, taken: set[str]) -> str:
        """The next free ``PREFIX-0001`` style number (POs, sales invoices, credit notes)."""
        counter = self.sequences.get(prefix, 0)
        while True:
            counter += 1
            candidate = f"{prefix}-{counter:04d}"
            if candidate.casefold() not in taken:
                self.sequences[prefix] = counter
                return candidate

    # -- lookups -------------------------------------------------------------------------

    def account_by_code(self, code: str) -> Record | None:
        for account in self.accounts.values():
            if account.get("Code") == code and account.get("Status") == "ACTIVE":
                return account
        return None

    def find_account(self, reference: Record) -> Record | None:
        """An account named by ``AccountID`` or ``Code``."""
        account_id = str(reference.get("AccountID") or "").lower()
        if account_id:
            return self.accounts.get(account_id)
        code = reference.get("Code")
        return self.account_by_code(str(code)) if code else None

    def contact_by_key(self, key: str) -> Record | None:
        """A contact by ContactID, or else by ContactNumber (both work in the URL)."""
        found = self.contacts.get(key.lower())
        if found:
            return found
        for contact in self.contacts.values():
            if contact.get("ContactNumber") and contact["ContactNumber"] == key:
                return contact
        return None


def new_id() -> str:
    """A fresh Xero-style GUID (lowercase)."""
    return str(uuid.uuid4())


def normalise_id(value: Any) -> str:
    """IDs compare case-insensitively; store and look them up in lowercase."""
    return str(value or "").strip().lower()
