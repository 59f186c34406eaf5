"""The least API calls a nightly run can make for the data it found: the *floor*.

Issue #15's rule: for each list an integration must read, the pages at the biggest page size the
endpoint allows; for each write, the records divided by the biggest batch the endpoint takes (one
call per record where there is no batch); shared reads counted once per nightly. The terms below
are that rule applied to what each integration must read and write, with every count taken from
the data of the measured night: the sandboxes' object counts before and after it and the
integrations' counts of records written. One token per system per night.

Narrowest readings, written down here because they decide the figure:

- Procore documents no company-wide list of commitments, requisitions or project cost codes
  (every one requires ``project_id``), so each of those lists costs at least one page per linked
  project, every night, even a quiet one.
- A commitment's lines are only in its show (the list has none): one show per commitment that is
  written. Claims need the commitments only to label themselves; those are the same lists the
  commitments integration reads, so they are counted once.
- Payment terms of the contacts a claim goes to come from the one contacts read vendors make.
- Change orders: Procore lists them per project only (``/projects/{id}/commitment_change_orders``)
  and an approval does not move the commitment's ``updated_at`` (the reading in
  ``trestle.integrations.change_orders``), so one list per linked project every night.
- A project's list of subcontractor invoices at 1,000 a page is one call, whether whole or changed
  only; its whole list serves progress claims (changed claims, deletion check) and claim
  attachments (Procore does not say a new file moves a claim's ``updated_at``) alike: one term.
- Progress claims' deletion check of bills is the same Xero read as direct invoices' changed bills
  (both ``ACCPAY``, modified since): counted once. Its credit-note check is not counted (the night's
  data does not say whether a linked claim is a credit note): the floor errs low.
- Bill attachments: Xero does not say a new file moves a bill's ``UpdatedDateUTC``, so the linked
  bills' ``HasAttachments`` are read every night (at the biggest page) and the files listed of at
  least one bill when any has files.
- Xero takes 50 documents per batch write (``trestle.clients.xero_batch.BATCH_SIZE``, the size
  Xero's documentation recommends), a tracking option one call each (no batch endpoint), Procore's
  vendor sync 1,000 per call and a contract payment one call each.
- New direct costs: three syncs per project that gains some, whatever their number (headers without
  ``origin_id``, then their lines, then the lock that sets ``origin_id``: Procore locks a direct cost
  once its ``origin_id`` is set, and no documented create takes lines keyed by cost code), and the
  company's cost types once (a line synced by cost code needs one).
- A file copied between the systems is a download and an upload, neither with a batch. A file
  goes to a direct cost only with its lock lifted (``origin_id`` cleared) and set again: two syncs,
  counted once per night that copies any (the night's data does not say how many direct costs
  received files, so the floor errs low).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from bench.nightly import NightMeasurement

XERO_PAGE = 1000
PROCORE_PAGE = 1000
XERO_BATCH = 50
PROCORE_SYNC_BATCH = 1000


@dataclass(frozen=True)
class Term:
    """Some calls the floor allows: on ``system``, for ``integration``, what and how many."""

    system: str
    integration: str
    what: str
    calls: int


def pages(records: int, page_size: int) -> int:
    """Pages a list of ``records`` takes (an empty list still costs one call)."""
    return max(1, ceil(records / page_size))


def batches(records: int, batch: int) -> int:
    """Calls ``records`` writes take at ``batch`` per call (none when nothing is written)."""
    return ceil(records / batch) if records > 0 else 0


def linked_projects(night: NightMeasurement) -> int:
    """Projects linked after the night (they are the scope of every per-project list)."""
    return night.objects_after["xero"].get("tracking_options:Project", 0)


def direct_cost_projects(night: NightMeasurement) -> int:
    """Projects that gained direct costs: at least one, and more only where the count of projects
    holding direct costs grew (new bills in projects that already had some count once: the floor errs low)."""
    before = night.objects_before["procore"].get("direct_cost_projects", 0)
    return max(1, night.objects_after["procore"].get("direct_cost_projects", 0) - before)


def floor_terms(night: NightMeasurement) -> list[Term]:
    """Every term of the floor of ``night``, per system and integration."""
    x_before, x_after = night.objects_before["xero"], night.objects_after["xero"]
    p_before = night.objects_before["procore"]
    projects = linked_projects(night)
    first_read = not night.objects_before["xero"].get("tracking_options:Project")
    terms = [Term("xero", "(run)", "token", 1), Term("procore", "(run)", "token", 1)]
    # vendors: the contact group, its contacts; active and inactive vendors; one sync
    terms += [
        Term("xero", "vendors", "contact group list + group", 2),
        Term("xero", "vendors", "contacts", pages(x_before.get("contacts", 0) if first_read else 0, XERO_PAGE)),
        Term("procore", "vendors", "vendors + inactive vendors", 2 * pages(p_before.get("vendors", 0), PROCORE_PAGE)),
        Term("procore", "vendors", "vendor sync", batches(night.written("vendors"), PROCORE_SYNC_BATCH)),
    ]
    # projects and cost codes: their Procore lists, the tracking categories (read once), options one by one
    terms += [
        Term("xero", "projects", "tracking categories (shared)", 1),
        Term("procore", "projects", "projects", pages(p_before.get("projects", 0), PROCORE_PAGE)),
        Term("xero", "projects", "tracking options written", night.written("projects")),
        Term("procore", "cost_codes", "standard cost code lists + codes", 2),
        Term("xero", "cost_codes", "tracking options written", night.written("cost_codes")),
    ]
    # commitments: two lists and a change-order list per project, one show per commitment written,
    # purchase orders in batches
    terms += [
        Term("procore", "commitments", "work orders + purchase orders per project", 2 * projects),
        Term("procore", "commitments", "change orders per project", projects),
        Term("procore", "commitments", "shows of commitments written", night.written("commitments")),
        Term("xero", "commitments", "purchase orders written", batches(night.written("commitments"), XERO_BATCH)),
    ]
    # progress claims: requisitions per project, cost codes of projects with claims to map, bills and notes
    bills = max(0, x_after.get("invoices", 0) - x_before.get("invoices", 0))
    notes = max(0, x_after.get("credit_notes", 0) - x_before.get("credit_notes", 0))
    claims_updated = int(night.integrations.get("progress_claims", {}).get("updated", 0))
    claims_written = night.written("progress_claims")
    terms += [
        Term("procore", "progress_claims", "requisitions per project (shared with claim attachments)", projects),
        Term("procore", "progress_claims", "project cost codes (shared)", projects if claims_written else 0),
        Term("xero", "progress_claims", "bills written", batches(bills + claims_updated, XERO_BATCH)),
        Term("xero", "progress_claims", "credit notes written", batches(notes, XERO_BATCH)),
    ]
    # direct invoices: the changed Xero bills; new direct costs in three syncs per project (headers,
    # lines, lock), which need the company's cost types once
    direct_created = int(night.integrations.get("direct_invoices", {}).get("created", 0))
    direct_updated = int(night.integrations.get("direct_invoices", {}).get("updated", 0))
    cost_projects = direct_cost_projects(night) if direct_created else 0
    terms += [
        Term("xero", "direct_invoices", "bills changed", 1),
        Term("procore", "direct_invoices", "cost types", 1 if direct_created else 0),
        Term("procore", "direct_invoices", "headers, lines and locks (3 syncs a project)", 3 * cost_projects),
        Term("procore", "direct_invoices", "direct costs updated (sync)", batches(direct_updated, PROCORE_SYNC_BATCH)),
    ]
    # bill attachments: the linked bills' HasAttachments, then the files of each bill that has some
    # (counted only when it found files: the night's data does not say whether bills are linked)
    bill_files = night.integrations.get("bill_attachments", {})
    with_files = sum(int(bill_files.get(key, 0)) for key in ("created", "updated", "unchanged", "skipped", "failed"))
    terms += [
        Term("xero", "bill_attachments", "linked bills re-read", 1 if with_files else 0),
        Term("xero", "bill_attachments", "files of bills with attachments", 1 if with_files else 0),
        Term("xero", "bill_attachments", "files copied: downloads", night.written("bill_attachments")),
        Term("procore", "bill_attachments", "files copied: uploads", night.written("bill_attachments")),
        Term("procore", "bill_attachments", "lock lifted and set again", 2 if night.written("bill_attachments") else 0),
    ]
    # claim attachments: each file copied is one download and one upload (neither has a batch)
    terms += [
        Term("procore", "claim_attachments", "files copied: downloads", night.written("claim_attachments")),
        Term("xero", "claim_attachments", "files copied: uploads", night.written("claim_attachments")),
    ]
    # payments: the changed Xero payments; one Procore call per contract payment
    terms += [
        Term("xero", "payments", "payments changed", 1),
        Term("procore", "payments", "contract payments written", night.written("payments")),
    ]
    return [term for term in terms if term.calls]


def floor_calls(night: NightMeasurement, system: str, integration: str | None = None) -> int:
    """The floor of ``night`` on ``system`` (of one integration, if given)."""
    return sum(
        term.calls
        for term in floor_terms(night)
        if term.system == system and (integration is None or term.integration == integration)
    )
