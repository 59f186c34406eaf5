"""Vendors: Xero contacts in the configured contact group → Procore company vendors.

Picked up: ACTIVE contacts in the group (``sync.contact_group``, default "Procore").
Matched, in order: an existing link; a Procore vendor whose ``origin_id`` is the contact's
ContactID; the same tax number (Xero TaxNumber = Procore ``business_id``, digits compared);
the same name once legal suffixes and punctuation are dropped; a fuzzy name match at or above
``sync.fuzzy_threshold`` (:mod:`trestle.matching`). More than one candidate at any step is an
issue, never a guess. All of a run's contacts are read before matching and decided together, so
the outcome depends neither on page boundaries nor on order.
Written through ``PATCH /vendors/sync`` in batches of up to 1000, keyed by ``origin_id`` so a
resend updates rather than duplicates."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any

import pycountry

from trestle.batching import chunked
from trestle.integrations.lookups import Lookups
from trestle.matching import Decision, NameIndex, normalize_tax_number, resolve
from trestle.models.procore import Vendor
from trestle.models.xero import Address, Contact
from trestle.tasks.declaration import FieldMap, IssueCode
from trestle.tasks.engine import Blocked, Integration, Page, Record, WriteItem, WriteResult

__all__ = ["VendorsIntegration", "normalize_tax_number", "postal_address", "resolve_country", "resolve_region"]

PAGE_SIZE = 1000
MATCH_STEPS = ("origin_id", "tax_number", "name", "fuzzy_name")


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
            'accents, punctuation, word order, "&"/"and", common abbreviations (Bros, Intl, …) and words that '
            "describe the company form (Pty, Ltd, Inc, LLC, Co, Group, Services, Holdings, Trading, & Sons, …) are "
            "set aside; a fuzzy name match scoring at least `TRESTLE_SYNC_FUZZY_THRESHOLD` (100, less 4 points per "
            "typo and 30 per word with no counterpart, so a name contained in a longer one is not a match). "
            "Different tax numbers on both sides are never a match. A vendor already linked to another contact is "
            "not a candidate. The whole run's contacts are decided together, so pages and order do not matter: more "
            "than one candidate is a review issue, never a guess, and a vendor that several contacts claim at the "
            "same step goes to none of them and to no weaker match either, the same way every night.",
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
            "Pick the right vendor and link it: `trestle link vendor --xero CONTACT_ID --procore VENDOR_ID` (the "
            "next run keeps the link and updates that vendor). Or give the contact a tax number that matches one "
            "Procore vendor's business ID, or rename the duplicate vendors in Procore so only one matches.",
        ),
        IssueCode(
            "vendor.shared_match",
            "several contacts match the same Procore vendor at the same step; none is linked",
            "Link the vendor to the right contact with `trestle link vendor --xero CONTACT_ID --procore VENDOR_ID`, "
            "give each contact its tax number, or merge the duplicate contacts in Xero.",
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
        self.by_origin: dict[str, list[str]] = {}
        for vendor_id, vendor in sorted(self.vendors.items()):
            if vendor.origin_id:
                self.by_origin.setdefault(vendor.origin_id, []).append(vendor_id)
        self.index = NameIndex((vendor_id, v.name, v.business_id) for vendor_id, v in self.vendors.items())
        self.plan: dict[str, Decision] = {}
        self.labels: dict[str, str] = {}

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
        """Every page of the run is read before the first is handed on, together with the contacts
        that still have an open review issue, so :meth:`match` decides for the run's whole set of
        unlinked contacts at once: the outcome never depends on page boundaries or order."""
        pages = list(self._source_pages(since))
        fetched = {record.id for page in pages for record in page.records}
        open_issues = self.ctx.store.open_issues(integration=self.name, entity=self.entity)
        for ids in chunked(sorted({issue.record_id for issue in open_issues} - fetched), PAGE_SIZE):
            if records := self.fetch_by_ids(ids):
                pages.append(Page(records, stream="recheck"))
        self._plan_matches([record for page in pages for record in page.records])
        yield from pages

    def _source_pages(self, since: datetime | None) -> Iterator[Page]:
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
    def _plan_matches(self, records: list[Record]) -> None:
        """Decide the matches of every unlinked, valid contact of the run at once (see :func:`resolve`)."""
        links = self.ctx.store.links(self.entity)
        linked = {link.xero_id for link in links}
        contenders: list[Record] = []
        for record in records:
            if record.id in linked:
                continue
            self.validate(record)  # the validate stage runs again on every record: this only looks
            valid, record.issues = not record.issues, []
            if valid:
                contenders.append(record)
        self.plan = self._decide(contenders, {link.procore_id for link in links})

    def _decide(self, records: list[Record], taken: AbstractSet[str]) -> dict[str, Decision]:
        contacts: dict[str, Contact] = {record.id: record.data for record in records}
        self.labels.update((record.id, record.label) for record in records)
        threshold = self.ctx.settings.sync.fuzzy_threshold

        def by_origin(contact_id: str) -> list[str]:
            return self.by_origin.get(contact_id, [])

        def by_tax(contact_id: str) -> list[str]:
            return self.index.same_tax(contacts[contact_id].tax_number)

        def by_name(contact_id: str) -> list[str]:
            return self._same_business(contacts[contact_id], self.index.same_name(contacts[contact_id].name or ""))

        def by_fuzzy_name(contact_id: str) -> list[str]:
            hits = self.index.fuzzy(contacts[contact_id].name or "", threshold)
            return self._same_business(contacts[contact_id], [vendor_id for vendor_id, _score in hits])

        steps = (by_origin, by_tax, by_name, by_fuzzy_name)
        return resolve(contacts, tuple(zip(MATCH_STEPS, steps, strict=True)), taken)

    def _same_business(self, contact: Contact, vendor_ids: list[str]) -> list[str]:
        """Different tax numbers on both sides mean different businesses, whatever the names say."""
        tax = normalize_tax_number(contact.tax_number)
        if not tax:
            return vendor_ids
        return [v for v in vendor_ids if normalize_tax_number(self.vendors[v].business_id) in ("", tax)]

    def match(self, records: list[Record], taken: AbstractSet[str]) -> None:
        """Apply the run's decisions (made by :meth:`fetch` over every contact of the run).

        A contact read later by id (a write an earlier run could not finish) is decided then,
        against the vendors the run's decisions left free.
        """
        late = [record for record in records if record.id not in self.plan]
        if late:
            claimed = set(taken).union(*(decision.candidates for decision in self.plan.values() if decision.rivals))
            claimed.update(decision.target_id for decision in self.plan.values() if decision.target_id)
            self.plan.update(self._decide(late, claimed))
        for record in records:
            decision = self.plan[record.id]
            method = (decision.method or "").replace("_", " ")
            if decision.target_id:
                record.target_id, record.match_method = decision.target_id, decision.method
                record.target = self.vendors[decision.target_id]
            elif decision.rivals:
                vendor = self.vendors[decision.candidates[0]]
                claimants = sorted([record.label, *(self.labels[rival] for rival in decision.rivals)])
                record.flag(
                    "vendor.shared_match",
                    f"{len(claimants)} contacts match the same Procore vendor '{vendor.name}' (#{vendor.id}) "
                    f"by {method}: " + "; ".join(claimants),
                    vendor_id=vendor.id,
                    contacts=claimants,
                )
            elif decision.candidates:
                candidates = [self.vendors[vendor_id] for vendor_id in decision.candidates]
                record.flag(
                    "vendor.multiple_matches",
                    f"{len(candidates)} Procore vendors could be this contact (by {method}): "
                    + "; ".join(f"{v.name} (#{v.id})" for v in candidates),
                    candidates=[{"id": v.id, "name": v.name} for v in candidates],
                    matched_by=decision.method,
                )

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
