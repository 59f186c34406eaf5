"""Vendors: Xero contacts in the configured contact group → Procore company vendors.

Picked up: ACTIVE contacts in the group (``sync.contact_group``, default "Procore").
Matched, in order: an existing link; a Procore vendor whose ``origin_id`` is the contact's
ContactID; the same tax number (Xero TaxNumber = Procore ``business_id``, digits compared);
the same name once legal suffixes and punctuation are dropped; a fuzzy name match at or above
``sync.fuzzy_threshold``. More than one candidate at any step is an issue, never a guess.
Written through ``PATCH /vendors/sync`` in batches of up to 1000, keyed by ``origin_id`` so a
resend updates rather than duplicates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any

import pycountry
from rapidfuzz import fuzz, process

from trestle.batching import chunked
from trestle.integrations.lookups import Lookups
from trestle.models.procore import Vendor
from trestle.models.xero import Address, Contact
from trestle.tasks.declaration import FieldMap, IssueCode
from trestle.tasks.engine import Blocked, Integration, Page, Record, WriteItem, WriteResult

PAGE_SIZE = 1000
_LEGAL_WORDS = {
    "pty",
    "ltd",
    "limited",
    "inc",
    "incorporated",
    "llc",
    "co",
    "corp",
    "corporation",
    "the",
    "plc",
}
_NOT_WORD = re.compile(r"[^\w\s]")


def normalize_name(name: str) -> str:
    """Lower-case words without punctuation or legal suffixes: "ACME Pty. Ltd." → "acme"."""
    words = _NOT_WORD.sub(" ", name.casefold().replace("&", " and ")).split()
    return " ".join(word for word in words if word not in _LEGAL_WORDS)


def normalize_tax_number(value: str | None) -> str:
    return "".join(ch for ch in (value or "") if ch.isalnum()).upper()


def resolve_country(value: str) -> Any | None:
    """The pycountry country for an ISO 3166-1 alpha-2 or alpha-3 code, else None."""
    code = value.strip().upper()
    if len(code) == 2:
        return pycountry.countries.get(alpha_2=code)
    if len(code) == 3:
        return pycountry.countries.get(alpha_3=code)
    return None


def resolve_region(country: Any, value: str) -> str | None:
    """The region's ISO 3166-2 code (without the country prefix) if valid for ``country``."""
    subdivisions = pycountry.subdivisions.get(country_code=country.alpha_2) or []
    if not subdivisions:
        return value.strip()  # nothing to check against: keep what the user typed
    wanted = value.strip().casefold()
    for subdivision in subdivisions:
        short: str = subdivision.code.split("-", 1)[1]
        if wanted in (short.casefold(), subdivision.code.casefold(), subdivision.name.casefold()):
            return short
    return None


def postal_address(contact: Contact) -> Address | None:
    """The street address if it has content, else the postal one."""
    addresses = contact.addresses or []
    for kind in ("STREET", "POBOX"):
        for address in addresses:
            if address.address_type == kind and any(
                (address.address_line1, address.city, address.region, address.postal_code, address.country)
            ):
                return address
    return None


def _wire_vendor(payload: dict[str, Any]) -> dict[str, Any]:
    """The mapped vendor as ``PATCH /vendors/sync`` takes it: Procore shows a tax number as
    ``business_id`` but only accepts it as ``business_register_attributes`` (silently dropping a
    written ``business_id``), so it is compared as ``business_id`` and sent as a register."""
    wire = dict(payload)
    tax_number = wire.pop("business_id", None)
    if tax_number:
        register_type = "ABN" if wire.get("country_code") == "AU" else "Tax ID"
        wire["business_register_attributes"] = {"type": register_type, "identifier": tax_number}
    return wire


class VendorsIntegration(Integration):
    name = "vendors"
    title = "Vendors"
    entity = "vendor"
    source_system = "xero"
    target_system = "procore"
    write_batch_size = 1000
    summary = "Xero contacts in the configured contact group → Procore company vendors."
    picked_up = (
        'Active Xero contacts in the contact group `TRESTLE_SYNC_CONTACT_GROUP` (default "Procore"). '
        "Incremental: contacts changed since the last run (with the `TRESTLE_SYNC_OVERLAP_MINUTES` overlap), "
        "contacts newly added to the group, and every contact that still has an open review issue."
    )
    notes = (
        (
            "Matched",
            "In order: an existing link; a Procore vendor whose `origin_id` is the ContactID; the same tax number "
            "(Xero TaxNumber = Procore `business_id`, letters and digits compared); the same name once case, "
            "punctuation and legal words (Pty, Ltd, Inc, LLC, Co, …) are dropped; a fuzzy name match scoring at "
            "least `TRESTLE_SYNC_FUZZY_THRESHOLD`. More than one candidate at any step is a review issue, never a "
            "guess. A vendor already linked to another contact is not a candidate.",
        ),
        (
            "Written",
            "Through `PATCH /rest/v1.0/vendors/sync`, up to 1,000 per call, keyed by `origin_id` (the ContactID) so "
            "a resend updates rather than duplicates. Fields left empty in Xero are not sent, so they never blank "
            "out what a project team entered in Procore.",
        ),
    )
    mapping = (
        FieldMap("origin_id", "ContactID"),
        FieldMap("origin_code", "ContactNumber"),
        FieldMap("name", "Name"),
        FieldMap("address", "street address lines 1–3 (postal address when there is no street address)"),
        FieldMap("city", "City"),
        FieldMap("zip", "PostalCode"),
        FieldMap("country_code", "Country as ISO 3166-1 alpha-2 (alpha-3 such as `AUS` is converted)"),
        FieldMap("state_code", 'Region as its ISO 3166-2 code (a region name such as "New South Wales" becomes `NSW`)'),
        FieldMap("business_phone", "the DEFAULT phone (country, area, number)"),
        FieldMap("email_address", "EmailAddress"),
        FieldMap("business_id", "TaxNumber"),
    )
    settings_used = ("contact_group", "fuzzy_threshold", "overlap_minutes")
    issues = (
        IssueCode(
            "vendors.contact_group_missing",
            "the contact group does not exist; nothing was sent",
            "Create the contact group in Xero (Contacts → Groups) and add the suppliers Procore should know, or "
            "set TRESTLE_SYNC_CONTACT_GROUP to the group you use.",
        ),
        IssueCode("contact.no_name", "the contact has no name", "Give the contact a name in Xero."),
        IssueCode(
            "contact.invalid_country",
            "the country is not an ISO 3166-1 alpha-2 or alpha-3 code",
            "Set the address country in Xero to a two- or three-letter ISO code (AU or AUS, NZ or NZL, US or USA).",
        ),
        IssueCode(
            "contact.invalid_region",
            "the region is not valid for that country (the valid codes are listed)",
            "Set the address region in Xero to a state or region code valid for the country (NSW, VIC, CA, …) "
            "or clear it.",
        ),
        IssueCode(
            "vendor.multiple_matches",
            "several Procore vendors could be this contact; the candidates are listed",
            "Give the contact a tax number that matches one Procore vendor's business ID, or rename the duplicate "
            "vendors in Procore so only one matches.",
        ),
        IssueCode(
            "vendor.shared_match",
            "several contacts match the same Procore vendor at the same step; none is linked",
            "Give each contact its tax number, or merge the duplicate contacts in Xero.",
        ),
        IssueCode(
            "vendor.inactive",
            "the matching Procore vendor is inactive, so the changes were not sent",
            "Reactivate the vendor in Procore's company directory (Directory → Inactive Companies) if you still "
            "work with them; the next run sends the changes.",
        ),
        IssueCode(
            "vendor.write_rejected",
            "Procore refused the write (its message is shown)",
            "Correct the contact in Xero as the message says; the next run retries.",
        ),
        IssueCode(
            "vendor.target_already_linked",
            "another contact is already linked to that Procore vendor",
            "Two Xero contacts point at the same Procore vendor: archive or remove one of them from the contact group.",
        ),
    )

    def prepare(self) -> None:
        xero, group_name = self.ctx.xero, self.ctx.settings.sync.contact_group
        group = next(
            (g for g in xero.contact_groups() if (g.name or "").casefold() == group_name.casefold()),
            None,
        )
        if group is None or not group.contact_group_id:
            raise Blocked(
                "vendors.contact_group_missing",
                f"The Xero contact group '{group_name}' does not exist, so no vendors were sent to Procore.",
                fix=self.issue_fixes["vendors.contact_group_missing"],
            )
        members = xero.contact_group(group.contact_group_id).contacts or []
        self.members = {contact.contact_id for contact in members if contact.contact_id}
        active = list(self.ctx.procore.iter_vendors())
        inactive = list(self.ctx.procore.iter_inactive_vendors())
        for vendor in inactive:
            vendor.is_active = False
        self.vendors: dict[str, Vendor] = {str(v.id): v for v in [*active, *inactive] if v.id is not None}
        self._index_vendors()

    def _index_vendors(self) -> None:
        self.by_origin: dict[str, list[Vendor]] = {}
        self.by_tax: dict[str, list[Vendor]] = {}
        self.by_name: dict[str, list[Vendor]] = {}
        for vendor in self.vendors.values():
            if vendor.origin_id:
                self.by_origin.setdefault(vendor.origin_id, []).append(vendor)
            if tax := normalize_tax_number(vendor.business_id):
                self.by_tax.setdefault(tax, []).append(vendor)
            if name := normalize_name(vendor.name or ""):
                self.by_name.setdefault(name, []).append(vendor)
        self.fuzzy_names = list(self.by_name)

    # ------------------------------------------------------------------ fetch
    def _record(self, contact: Contact) -> Record:
        record = Record(
            contact.contact_id or "",
            contact.name or "(no name)",
            contact,
            updated_at=contact.updated_date_utc,
            url=self.ctx.links.xero_contact(contact.contact_id or ""),
        )
        return record

    def fetch(self, since: datetime | None) -> Iterator[Page]:
        batch: list[Record] = []
        high_water: datetime | None = None
        seen: set[str] = set()
        lookups = Lookups.of(self.ctx)
        for contact in self.ctx.xero.iter_contacts(modified_since=since):
            lookups.remember_contacts([contact])  # progress claims' payment terms, without a read of their own
            if contact.updated_date_utc and (high_water is None or contact.updated_date_utc > high_water):
                high_water = contact.updated_date_utc
            if contact.contact_id not in self.members:
                continue
            seen.add(contact.contact_id)
            batch.append(self._record(contact))
            if len(batch) >= PAGE_SIZE:
                yield Page(batch, high_water=high_water)
                batch = []
        if batch or high_water is not None:
            yield Page(batch, high_water=high_water)
        if since is not None:  # new members whose contact did not change: adding to a group is not an edit
            unseen = sorted(self.members - seen - self.linked_sources)
            for ids in chunked(unseen, PAGE_SIZE):
                records = self.fetch_by_ids(ids)
                if records:
                    yield Page(records, stream="new-members")

    def fetch_by_ids(self, ids: Sequence[str]) -> list[Record]:
        wanted = [contact_id for contact_id in ids if contact_id in self.members]
        if not wanted:
            return []
        return [self._record(contact) for contact in self.ctx.xero.iter_contacts(ids=wanted)]

    @property
    def linked_sources(self) -> set[str]:
        return {link.xero_id for link in self.ctx.store.links(self.entity)}

    def expected_total(self) -> int | None:
        return len(self.members)

    # --------------------------------------------------------------- validate
    def validate(self, record: Record) -> None:
        contact: Contact = record.data
        if not (contact.name or "").strip():
            record.flag("contact.no_name", "The contact has no name.")
        address = postal_address(contact)
        if address is None or not (address.country or "").strip():
            return
        country = resolve_country(address.country or "")
        if country is None:
            record.flag(
                "contact.invalid_country",
                f"Country '{address.country}' on the {address.address_type or ''} address is not an "
                "ISO 3166-1 alpha-2 or alpha-3 code.",
                country=address.country,
            )
            return
        if (address.region or "").strip() and resolve_region(country, address.region or "") is None:
            examples = sorted(s.code.split("-", 1)[1] for s in pycountry.subdivisions.get(country_code=country.alpha_2))
            record.flag(
                "contact.invalid_region",
                f"Region '{address.region}' is not a state or region of {country.name} "
                f"(expected one of {', '.join(examples[:12])}{'…' if len(examples) > 12 else ''}).",
                region=address.region,
                country=country.alpha_2,
            )

    # ------------------------------------------------------------------ match
    def match(self, records: list[Record], taken: AbstractSet[str]) -> None:
        """Match step by step across the whole page, strongest evidence first.

        A vendor claimed by a stronger step (or already linked) is no longer a candidate for a
        weaker one, and two contacts claiming the same vendor at the same step are both
        flagged, so the outcome never depends on the order records arrive in.
        """
        taken = set(taken)
        pending = list(records)
        for method in ("origin_id", "tax_number", "name", "fuzzy_name"):
            claims: dict[str, list[Record]] = {}
            unmatched: list[Record] = []
            for record in pending:
                candidates = [v for v in self._candidates(method, record.data) if str(v.id) not in taken]
                if len(candidates) > 1:
                    record.flag(
                        "vendor.multiple_matches",
                        f"{len(candidates)} Procore vendors could be this contact "
                        f"(by {method.replace('_', ' ')}): " + "; ".join(f"{v.name} (#{v.id})" for v in candidates),
                        candidates=[{"id": v.id, "name": v.name} for v in candidates],
                        matched_by=method,
                    )
                elif candidates:
                    record.target = candidates[0]
                    claims.setdefault(str(candidates[0].id), []).append(record)
                else:
                    unmatched.append(record)
            for vendor_id, claimants in claims.items():
                if len(claimants) == 1:
                    claimants[0].target_id, claimants[0].match_method = vendor_id, method
                    taken.add(vendor_id)
                    continue
                vendor = self.vendors[vendor_id]
                for record in claimants:
                    record.target = None
                    record.flag(
                        "vendor.shared_match",
                        f"{len(claimants)} contacts match the same Procore vendor '{vendor.name}' (#{vendor.id}) "
                        f"by {method.replace('_', ' ')}: " + "; ".join(r.label for r in claimants),
                        vendor_id=vendor.id,
                        contacts=[r.label for r in claimants],
                    )
            pending = unmatched

    def _candidates(self, method: str, contact: Contact) -> list[Vendor]:
        if method == "origin_id":
            return self.by_origin.get(contact.contact_id or "", [])
        tax = normalize_tax_number(contact.tax_number)
        if method == "tax_number":
            return self.by_tax.get(tax, []) if tax else []
        found = (
            self.by_name.get(normalize_name(contact.name or ""), [])
            if method == "name"
            else self._fuzzy(contact.name or "")
        )
        # Different tax numbers on both sides mean different businesses, whatever the names say.
        return [v for v in found if not (tax and normalize_tax_number(v.business_id) not in ("", tax))]

    def _fuzzy(self, name: str) -> list[Vendor]:
        wanted = normalize_name(name)
        if not wanted or not self.fuzzy_names:
            return []
        threshold = self.ctx.settings.sync.fuzzy_threshold
        hits = process.extract(wanted, self.fuzzy_names, scorer=fuzz.token_set_ratio, score_cutoff=threshold, limit=10)
        return [vendor for hit, _score, _ in hits for vendor in self.by_name[hit]]

    # -------------------------------------------------------------------- map
    def map(self, record: Record) -> dict[str, Any]:
        contact: Contact = record.data
        payload: dict[str, Any] = {"origin_id": record.id, "name": (contact.name or "").strip()}
        address = postal_address(contact)
        if address is not None:
            lines = [line for line in (address.address_line1, address.address_line2, address.address_line3) if line]
            payload["address"] = ", ".join(lines) or None
            payload["city"] = address.city
            payload["zip"] = address.postal_code
            country = resolve_country(address.country or "") if address.country else None
            if country is not None:
                payload["country_code"] = country.alpha_2
                if address.region:
                    payload["state_code"] = resolve_region(country, address.region)
        phone = next((p for p in contact.phones or [] if p.phone_type == "DEFAULT" and p.phone_number), None)
        if phone is not None:
            payload["business_phone"] = " ".join(
                part for part in (phone.phone_country_code, phone.phone_area_code, phone.phone_number) if part
            )
        payload["email_address"] = contact.email_address
        payload["business_id"] = contact.tax_number
        payload["origin_code"] = contact.contact_number
        return {key: value for key, value in payload.items() if value not in (None, "")}

    def current_payload(self, record: Record) -> dict[str, Any] | None:
        vendor = record.target or self.vendors.get(record.target_id or "")
        if vendor is None or record.payload is None:
            return None
        return {key: getattr(vendor, key, None) for key in record.payload}

    def check_update(self, record: Record) -> None:
        vendor = record.target or self.vendors.get(record.target_id or "")
        if vendor is not None and vendor.is_active is False:
            record.flag(
                "vendor.inactive",
                f"The Procore vendor '{vendor.name}' (#{vendor.id}) is inactive, so the changes from Xero "
                "were not sent.",
                vendor_id=vendor.id,
                changes=[change.field for change in record.changes],
            )

    # ------------------------------------------------------------------ write
    def write(self, items: list[WriteItem], batch_key: str) -> list[WriteResult]:
        updates = [
            {**_wire_vendor(item.payload), **({"id": int(item.target_id)} if item.target_id else {})} for item in items
        ]
        result = self.ctx.procore.sync_vendors(updates)
        created = {entity.origin_id: entity for entity in result.entities if entity.origin_id}
        errors = {error.origin_id: error for error in result.errors if error.origin_id}
        outcomes = []
        for item in items:
            origin = item.payload.get("origin_id")
            if origin in created:
                outcomes.append(WriteResult(item.source_id, ok=True, target_id=str(created[origin].id)))
            elif origin in errors:
                outcomes.append(WriteResult(item.source_id, ok=False, error="; ".join(errors[origin].messages)))
            else:
                outcomes.append(WriteResult(item.source_id, ok=False, error="Procore returned no result"))
        return outcomes

    def source_url(self, record: Record) -> str | None:
        return self.ctx.links.xero_contact(record.id)

    def target_url(self, target_id: str) -> str | None:
        return self.ctx.links.procore_vendor(target_id)
