"""The chaos runner: ``trestle run nightly`` as a child process under faults, SIGKILLed at seeded moments.

The sandboxes run in their own process (:class:`bench.sandbox_process.SandboxProcess`), so a
SIGKILL of the run never takes the simulated systems with it, as on a real install. One
*scenario* is a fault-free reference install and a chaos install, both from the same seeded data:

1. phase ``bills``: nightly runs (vendors … progress claims, direct invoices);
2. the accountant pays the same bills in both (chosen by bill number, not by creation order);
3. phase ``payments``: nightly runs again (payments reach Procore).

In each phase the chaos install gets 5xx and lost answers on reads and writes of both systems,
access tokens expiring mid-run, SIGKILLs (most right after a write reached a sandbox, the rest at
a random moment), two runs started together and Xero's daily limit running out mid-run (a day
budget of a few calls through the sandbox's control plane, restored after that run, as the next
day would); then the faults stop and one more run must leave
both systems equal to the reference: :class:`Books` compares them record by record, to the cent.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.sandbox_process import SandboxProcess, write_calls
from tests.integrations.apis import procore_api, xero_api
from trestle.db import make_engine, upgrade
from trestle.integrations import registry
from trestle.models.store import LinkStore
from trestle.models.tables import Link, WriteIntent

RUN_TIMEOUT = 240.0
KILL_NEAR_WRITE_SHARE = 0.75
"""Share of kills aimed right after a write reached a sandbox (the rest land at a random moment)."""
KILL_TRIES = 3
"""Runs a kill aimed at one integration's writes gets: a run that ends before that integration wrote
(its reads failed under the faults, or it had already written what the kill waited for) is followed
by another run aimed at the same writer, so every writer takes its kill."""
BANK_ACCOUNT = "090"
CHAOS_FILES = {"xero": 3, "procore": 5}
"""Documents given files after each reset beyond the default seed's one bill and one claim (every
other eligible bill of the small data; five more claims, two files each): each attachment integration
then has several files to write when its kill is due, not one file often already written."""
STRICT_LINE = re.compile(r"^strict mode: ", re.MULTILINE)
"""How both sandboxes log a request or answer their API's documents refuse (strict mode)."""
PROGRESS_LINE = re.compile(r"^ +(?:\d+%)? +([A-Z][a-z ]+): records processed", re.MULTILINE)
"""A child run's progress line (``trestle run`` prints one as each integration starts fetching); the
latest names the integration a kill landed in."""


@dataclass
class ChaosPlan:
    """How hard one scenario hits the chaos install (per phase)."""

    kills: int
    concurrent_pairs: int = 1
    error_rate: float = 0.1
    lost_rate: float = 0.1
    token_expiries: int = 1
    kill_targets: tuple[str, ...] = ()
    """Integrations whose writes the kills aim at, in turn (empty: any write, or a random moment)."""
    day_limits: int = 0
    """Runs whose Xero day budget runs out after a few calls (each then restored for the next run)."""


@dataclass
class Tally:
    """What was done to the chaos install and what came out of it."""

    runs: int = 0
    kills: int = 0
    token_expiries: int = 0
    day_limits: int = 0
    kills_by_integration: Counter[str] = field(default_factory=Counter)
    kills_missed: Counter[str] = field(default_factory=Counter)
    """Runs that ended before the writer their kill aimed at wrote (each followed by another try)."""
    faults_injected: int = 0
    duplicates: int = 0
    missing: int = 0
    amount_differences: int = 0
    unlinked: int = 0
    pending_intents: int = 0
    strict_violations: int = 0
    stats_polls: int = 0
    seconds: float = 0.0
    details: list[str] = field(default_factory=list)


@dataclass
class Install:
    """One Trestle install: a database and a home folder, pointed at the shared sandboxes."""

    root: Path
    sandboxes: SandboxProcess
    prefect_api_url: str | None

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.database_url = f"sqlite:///{self.root / 'trestle.db'}"
        upgrade(make_engine(self.database_url))

    @property
    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("TRESTLE_")}
        env.update(self.sandboxes.env)
        env.update(TRESTLE_DATABASE_URL=self.database_url, TRESTLE_HOME=str(self.root / "home"))
        env["TRESTLE_SYNC_BILL_STATUS"] = "AUTHORISED"  # bills the accountant can pay: payments get exercised
        env["PYTHONUNBUFFERED"] = "1"  # progress lines reach the log as they happen: kills aim by them
        if self.prefect_api_url:
            env["PREFECT_API_URL"] = self.prefect_api_url
        return env

    @property
    def store(self) -> LinkStore:
        return LinkStore(make_engine(self.database_url), "default")

    def start_nightly(self) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "trestle.cli", "run", "nightly", "--json", "--no-email"]
        self.last_log = self.root / f"run-{time.monotonic_ns()}.log"
        log = self.last_log.open("w")
        return subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True)

    def current_integration(self) -> str:
        """The integration the latest child run was in (from its log), or ``startup`` before the first."""
        started = PROGRESS_LINE.findall(self.last_log.read_text(errors="replace"))
        return started[-1].strip().lower().replace(" ", "_") if started else "startup"

    def run_nightly(self) -> int:
        process = self.start_nightly()
        return process.wait(RUN_TIMEOUT)


def wait_for(process: subprocess.Popen[str], condition: Any, timeout: float = RUN_TIMEOUT) -> bool:
    """Poll ``condition`` until it holds (True) or the process ends first (False)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if condition():
            return True
        if time.monotonic() > deadline:
            raise TimeoutError("the run neither ended nor reached the moment in time")
        time.sleep(0.02)
    return False


def total_writes(sandboxes: SandboxProcess, systems: tuple[str, ...] = ("xero", "procore")) -> int:
    """Writes that reached the sandboxes of ``systems`` since their stats were reset."""
    total = 0
    for system in systems:
        response = httpx.get(f"{sandboxes.urls[system]}/_sandbox/stats")
        response.raise_for_status()
        total += write_calls(response.json())
    return total


def stats_polls(sandboxes: SandboxProcess) -> int:
    """``GET /_sandbox/stats`` calls the sandboxes answered since their stats were reset (the harness's own)."""
    return sum(int(stats["requests"].get("GET /_sandbox/stats", 0)) for stats in sandboxes.stats().values())


def _after_writes_of(install: Install, integration: str, writes: int) -> Any:
    """A condition: ``writes`` writes reached ``integration``'s target sandbox since it began in the
    latest run (only that sandbox is polled: the other one serves the run meanwhile)."""
    started_at: list[int] = []
    target = (registry()[integration].target_system,)

    def reached() -> bool:
        if not started_at:
            if install.current_integration() != integration:
                return False
            started_at.append(total_writes(install.sandboxes, target))
        still_there = install.current_integration() == integration
        return still_there and total_writes(install.sandboxes, target) >= started_at[0] + writes

    return reached


def _expire_tokens_at_first_write(process: subprocess.Popen[str], sandboxes: SandboxProcess, aimed: Any | None) -> bool:
    """Expire both systems' access tokens right after the run's first write (mid-run); False if it ended first.

    ``aimed`` (the kill's condition) is polled meanwhile, so it takes its baseline as soon as its
    integration starts and a write of that integration before the expiry still counts for the kill.
    """
    start = total_writes(sandboxes)

    def first_write() -> bool:
        if aimed is not None:
            aimed()
        return total_writes(sandboxes) > start

    # 20 ms, as for a kill: phase two's expiry and kill both come at payments' first few writes
    if not wait_for(process, first_write):
        return False
    for system in ("xero", "procore"):
        httpx.post(f"{sandboxes.urls[system]}/_sandbox/tokens/expire").raise_for_status()
    return True


def chaos_phase(install: Install, plan: ChaosPlan, rng: random.Random, tally: Tally) -> None:
    """Kills, concurrent runs and token expiries under 5xx and lost answers, then a clean run."""
    sandboxes = install.sandboxes
    for system in ("xero", "procore"):
        httpx.post(f"{sandboxes.urls[system]}/_sandbox/stats/reset").raise_for_status()
    sandboxes.set_faults(error_rate=plan.error_rate, lost_rate=plan.lost_rate, seed=rng.randrange(1 << 30))
    expiries_left = plan.token_expiries
    for number in range(plan.kills):
        aim = plan.kill_targets[number % len(plan.kill_targets)] if plan.kill_targets else None
        for _attempt in range(KILL_TRIES if aim else 1):
            process = install.start_nightly()
            tally.runs += 1
            aimed = _after_writes_of(install, aim, 1) if aim else None
            if expiries_left:
                expiries_left -= 1
                if _expire_tokens_at_first_write(process, sandboxes, aimed):
                    tally.token_expiries += 1
            if aimed:
                reached = wait_for(process, aimed)
            elif rng.random() < KILL_NEAR_WRITE_SHARE:
                target = total_writes(sandboxes) + rng.randint(1, 6)
                reached = wait_for(process, lambda target=target: total_writes(sandboxes) >= target)
            else:
                delay = rng.uniform(2.0, 25.0)
                deadline = time.monotonic() + delay
                reached = wait_for(process, lambda deadline=deadline: time.monotonic() >= deadline)
            if reached:
                process.send_signal(signal.SIGKILL)
                tally.kills += 1
                process.wait(RUN_TIMEOUT)
                tally.kills_by_integration[install.current_integration()] += 1
                break
            process.wait(RUN_TIMEOUT)
            if aim:
                tally.kills_missed[aim] += 1
    for _ in range(plan.day_limits):
        set_day_budget(sandboxes, rng.randint(3, 20))
        tally.runs += 1
        install.run_nightly()
        set_day_budget(sandboxes, None)
        tally.day_limits += 1
    for _ in range(plan.concurrent_pairs):
        together = [install.start_nightly(), install.start_nightly()]
        tally.runs += 2
        for process in together:
            process.wait(RUN_TIMEOUT)
    tally.stats_polls += stats_polls(sandboxes)
    tally.faults_injected += sum(_faults_injected(stats) for stats in sandboxes.stats().values())
    sandboxes.set_faults(error_rate=0.0, lost_rate=0.0)
    tally.runs += 1
    install.run_nightly()


def reset_with_files(sandboxes: SandboxProcess) -> None:
    """Both sandboxes back to the seeded data, then :data:`CHAOS_FILES` more documents given files
    (through their control routes; the default seed stays as other tests know it)."""
    sandboxes.reset()
    for system, documents in CHAOS_FILES.items():
        answer = httpx.post(f"{sandboxes.urls[system]}/_sandbox/attachments", json={"documents": documents})
        answer.raise_for_status()
        assert answer.json()["documents"] == documents, f"the {system} sandbox filed {answer.json()}"


def strict_violations(sandboxes: SandboxProcess) -> int:
    """Requests and answers the sandboxes refused in strict mode so far (from their shared log)."""
    return len(STRICT_LINE.findall(sandboxes.log_path.read_text(errors="replace")))


def set_day_budget(sandboxes: SandboxProcess, remaining: int | None) -> None:
    """Leave ``remaining`` Xero calls in the day's budget (None: the normal day window)."""
    url = f"{sandboxes.urls['xero']}/_sandbox/rate-limits/day"
    httpx.post(url, json={"day_remaining": remaining}).raise_for_status()


def _faults_injected(stats: dict[str, Any]) -> int:
    """5xx answers (the sandboxes' own rules never answer 500, 503 or 504; the fault injector does)."""
    return sum(int(stats["statuses"].get(status, 0)) for status in ("500", "503", "504"))


def pay_progress_claim_bills(install: Install) -> None:
    """The accountant pays the bills Trestle wrote for progress claims: the same ones on every install
    (every second bill by number and supplier in full, every third of the rest in part)."""
    env = install.sandboxes.env
    bill_ids = [link.xero_id for link in install.store.links("progress_claim")]
    with xero_api(env) as xero:
        bills = []
        for start in range(0, len(bill_ids), 40):
            ids = ",".join(bill_ids[start : start + 40])
            bills += xero.get("/Invoices", params={"IDs": ids}).json()["Invoices"]
        payable = sorted(
            (b for b in bills if b["Type"] == "ACCPAY" and b["Status"] == "AUTHORISED"),
            key=lambda b: (b.get("InvoiceNumber") or "", b["Contact"]["Name"]),
        )
        payments = []
        for index, bill in enumerate(payable):
            due = Decimal(str(bill["AmountDue"]))
            amount = due if index % 2 == 0 else (due / 2).quantize(Decimal("0.01")) if index % 3 == 1 else None
            if amount:
                payments.append(
                    {
                        "Invoice": {"InvoiceID": bill["InvoiceID"]},
                        "Account": {"Code": BANK_ACCOUNT},
                        "Date": "2026-11-30",
                        "Amount": float(amount),
                        "Reference": f"chaos {index}",
                    }
                )
        if payments:
            xero.put("/Payments", json={"Payments": payments}).raise_for_status()


class Books:
    """What both systems hold, by business key (never by id: the two installs' ids differ)."""

    def __init__(self, env: dict[str, str]) -> None:
        """Read both sandboxes that ``env`` (an install's ``TRESTLE_*`` settings) points at."""
        self.records: Counter[tuple[Any, ...]] = Counter()
        self.amounts: dict[tuple[Any, ...], list[Decimal]] = {}
        with xero_api(env) as xero:
            for order in _xero_pages(xero, "/PurchaseOrders", "PurchaseOrders"):
                if order["Status"] != "DELETED":
                    self._add(("xero purchase order", order["Contact"]["Name"], order.get("Reference")), order["Total"])
            for bill in _xero_pages(xero, "/Invoices", "Invoices", where='Type=="ACCPAY"'):
                if bill["Status"] not in ("DELETED", "VOIDED"):
                    key = ("xero bill", bill["Contact"]["Name"], bill.get("InvoiceNumber"), bill["Status"])
                    self._add(key, bill["Total"])
                    if bill.get("HasAttachments"):
                        files = xero.get(f"/Invoices/{bill['InvoiceID']}/Attachments").json()["Attachments"]
                        for file in files:
                            self._add(("xero bill file", *key[1:3], file["FileName"]), file["ContentLength"])
            for note in _xero_pages(xero, "/CreditNotes", "CreditNotes"):
                if note["Status"] not in ("DELETED", "VOIDED"):
                    key = ("xero credit note", note["Contact"]["Name"], note.get("CreditNoteNumber"))
                    self._add(key, note["Total"])
            for category in xero.get("/TrackingCategories").json()["TrackingCategories"]:
                for option in category.get("Options", []):
                    self._add(("xero tracking option", category["Name"], option["Name"], option.get("Status")), 0)
        company = env["TRESTLE_PROCORE_COMPANY_ID"]
        with procore_api(env) as procore:
            vendors = procore.get("/rest/v1.0/vendors", params={"company_id": company, "per_page": 1000}).json()
            for vendor in vendors:
                self._add(("procore vendor", vendor["name"], bool(vendor.get("origin_id"))), 0)
            projects = procore.get("/rest/v1.0/projects", params={"company_id": company, "per_page": 1000}).json()
            for project in projects:
                self._procore_project(procore, project)

    def _procore_project(self, procore: httpx.Client, project: dict[str, Any]) -> None:
        project_id, name = project["id"], project["name"]
        self._add(("procore project", name, bool(project.get("origin_id"))), 0)
        costs = _json_list(procore.get(f"/rest/v1.1/projects/{project_id}/direct_costs", params={"per_page": 1000}))
        for cost in costs:
            vendor = cost.get("vendor")  # the list schema's vendor is a string (its name); show's an object
            vendor = vendor.get("name") if isinstance(vendor, dict) else vendor
            key = ("procore direct cost", name, vendor, cost.get("invoice_number"))
            self._add(key, cost.get("grand_total"))
            shown = procore.get(f"/rest/v1.1/projects/{project_id}/direct_costs/{cost['id']}")
            for file in _json_object(shown).get("attachments") or []:
                self._add(("procore direct cost file", *key[1:], file.get("filename")), 0)
        for kind in ("work_order_contracts", "purchase_order_contracts"):
            contracts = procore.get(f"/rest/v1.0/{kind}", params={"project_id": project_id, "per_page": 1000})
            for contract in contracts.json():
                payments = procore.get(
                    "/rest/v1.0/contract_payments", params={"project_id": project_id, "contract_id": contract["id"]}
                ).json()
                for payment in payments:
                    key = ("procore payment", name, contract.get("number"), payment.get("invoice_number"))
                    self._add((*key, payment.get("payment_number")), payment.get("amount"))

    def _add(self, key: tuple[Any, ...], amount: Any) -> None:
        self.records[key] += 1
        self.amounts.setdefault(key, []).append(Decimal(str(amount or 0)).quantize(Decimal("0.01")))

    def compare(self, reference: Books, tally: Tally) -> None:
        """Count duplicates, missing records and amount differences against ``reference``."""
        for key in set(self.records) | set(reference.records):
            have, want = self.records[key], reference.records[key]
            if have > want:
                tally.duplicates += have - want
                tally.details.append(f"duplicate ×{have - want}: {key}")
            elif want > have:
                tally.missing += want - have
                tally.details.append(f"missing ×{want - have}: {key}")
            elif sorted(self.amounts[key]) != sorted(reference.amounts[key]):
                tally.amount_differences += 1
                tally.details.append(f"amounts {self.amounts[key]} ≠ {reference.amounts[key]}: {key}")


def _json_list(response: httpx.Response) -> list[dict[str, Any]]:
    """A list answer's rows; any other answer fails loudly (a books reading must never be partial)."""
    rows = response.json()
    if response.status_code != 200 or not isinstance(rows, list):
        raise AssertionError(f"{response.request.url} answered {response.status_code}: {response.text[:500]}")
    return rows


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """An object answer; any other answer fails loudly, as :func:`_json_list`."""
    body = response.json()
    if response.status_code != 200 or not isinstance(body, dict):
        raise AssertionError(f"{response.request.url} answered {response.status_code}: {response.text[:500]}")
    return body


def _xero_pages(xero: httpx.Client, route: str, envelope: str, **params: Any) -> list[dict[str, Any]]:
    rows, page = [], 1
    while True:
        batch = xero.get(route, params={"page": page, "pageSize": 1000, **params}).json()[envelope]
        rows += batch
        if len(batch) < 1000:
            return rows
        page += 1


def check_links(install: Install, reference: Install, tally: Tally) -> None:
    """Every record the chaos install created is linked (as many links per entity as the reference)
    and no write is left pending."""

    def per_entity(store: LinkStore) -> Counter[str]:
        with store.session() as session:
            rows = session.execute(select(Link.entity, func.count()).group_by(Link.entity)).all()
        return Counter({entity: count for entity, count in rows})

    have, want = per_entity(install.store), per_entity(reference.store)
    for entity in set(have) | set(want):
        if have[entity] != want[entity]:
            tally.unlinked += abs(want[entity] - have[entity])
            tally.details.append(f"links of {entity}: {have[entity]} ≠ {want[entity]}")
    with install.store.session() as session:
        tally.pending_intents = (
            session.scalar(select(func.count()).select_from(WriteIntent).where(WriteIntent.status == "pending")) or 0
        )


def table(rows: list[tuple[str, Tally]]) -> str:
    """The chaos table: one line per scenario and a total."""
    columns = (
        "scenario", "faults", "runs", "kills", "expiries", "day limits", "duplicates", "missing", "amount diffs",
        "unlinked", "strict refusals",
    )  # fmt: skip
    lines = [" | ".join(columns)]
    total = Tally()
    for name, tally in rows:
        lines.append(" | ".join(map(str, (name, *_numbers(tally)))))
        for attribute in ("faults_injected", "runs", "kills", "token_expiries", "day_limits", "duplicates", "missing"):
            setattr(total, attribute, getattr(total, attribute) + getattr(tally, attribute))
        total.kills_by_integration += tally.kills_by_integration
        total.kills_missed += tally.kills_missed
        total.amount_differences += tally.amount_differences
        total.unlinked += tally.unlinked
        total.strict_violations += tally.strict_violations
    lines.append(" | ".join(map(str, ("total", *_numbers(total)))))
    by_integration = ", ".join(f"{name} {count}" for name, count in sorted(total.kills_by_integration.items()))
    lines.append(f"kills by integration: {by_integration or 'none'}")
    missed = ", ".join(f"{name} {count}" for name, count in sorted(total.kills_missed.items()))
    lines.append(f"runs that ended before their aimed writer wrote (tried again): {missed or 'none'}")
    timing = ", ".join(f"{name} {tally.seconds:.0f} s ({tally.stats_polls} stats polls)" for name, tally in rows)
    lines.append(f"wall time: {timing}")
    return "\n".join(lines)


def _numbers(tally: Tally) -> tuple[int, ...]:
    return (
        tally.faults_injected,
        tally.runs,
        tally.kills,
        tally.token_expiries,
        tally.day_limits,
        tally.duplicates,
        tally.missing,
        tally.amount_differences,
        tally.unlinked,
        tally.strict_violations,
    )
