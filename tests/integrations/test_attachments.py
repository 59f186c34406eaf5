"""Attachments both ways, end to end on the sandboxes over real HTTP.

Claim files (Procore subcontractor invoice → its Xero bill) and bill files (Xero bill → its
Procore direct cost): each reaches the target once, also when the answer to the upload is lost;
a second run uploads nothing; a file over 10 MB is a review issue, and an 8 MB one travels with
bounded memory (measured in a separate process, where no sandbox shares the heap).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import httpx
import pytest

from tests.integrations.apis import procore_api, xero_api
from trestle.cli import run_flow
from trestle.db import make_engine
from trestle.flows import get_flow
from trestle.models.store import LinkStore
from trestle.sandbox.attachments_seed import BILL_FILES, CLAIM_FILES, file_bytes
from trestle.sandbox.procore.routes_attachments import add_file

PREREQUISITES = ("vendors", "projects", "cost_codes", "commitments", "progress_claims", "direct_invoices")
MB = 1_000_000


def run(name: str) -> dict[str, Any]:
    return run_flow(get_flow(name), notify=False)["integrations"][name]


def store(env: dict[str, str]) -> LinkStore:
    return LinkStore(make_engine(env["TRESTLE_DATABASE_URL"]), "default")


def uploads(env: dict[str, str]) -> int:
    """PUT/POST requests the Xero sandbox served on invoice attachments."""
    requests = httpx.get(f"{env['TRESTLE_XERO_API_URL']}/_sandbox/stats").json()["requests"]
    return sum(
        count for key, count in requests.items() if key.split(" ")[0] in {"PUT", "POST"} and "/Attachments/" in key
    )


def set_faults(env: dict[str, str], sandbox_url: str, **faults: float) -> None:
    httpx.post(f"{env[sandbox_url]}/_sandbox/faults", json=faults).raise_for_status()


def seeded_claim(sandboxes: Any) -> dict[str, Any]:
    """The sandbox's claim that carries the seeded files (state of the in-process Procore sandbox)."""
    state = sandboxes.procore.server.config.app.state.procore
    return next(record for record in state.requisitions.values() if record.get("attachments"))


def bill_files(env: dict[str, str], bill_id: str) -> dict[str, bytes]:
    """FileName → bytes of every attachment on a Xero bill, read back through the API."""
    with xero_api(env) as xero:
        listed = xero.get(f"/Invoices/{bill_id}/Attachments").json()["Attachments"]
        return {
            item["FileName"]: xero.get(
                f"/Invoices/{bill_id}/Attachments/{item['AttachmentID']}", headers={"contentType": item["MimeType"]}
            ).content
            for item in listed
        }


def claim_bill(env: dict[str, str], claim_id: int) -> str:
    return next(link.xero_id for link in store(env).links("progress_claim") if link.procore_id == str(claim_id))


def procore_writes(env: dict[str, str]) -> dict[str, int]:
    requests = httpx.get(f"{env['TRESTLE_PROCORE_API_URL']}/_sandbox/stats").json()["requests"]
    return {key: count for key, count in requests.items() if key.startswith(("PATCH ", "POST ", "PUT "))}


def seeded_bill(sandboxes: Any) -> dict[str, Any]:
    state = sandboxes.xero.server.config.app.state.xero
    return next(bill for bill in state.invoices.values() if bill.get("_attachments"))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # its column lengths are enforced
def test_files_reach_their_targets_once_after_lost_answers_and_a_second_run_writes_nothing(
    trestle_env: dict[str, str], fresh_sandboxes: Any
) -> None:
    """Both directions after one run of their prerequisites (the slow part, so it is done once)."""
    for name in PREREQUISITES:
        run(name)
    claim_files_reach_the_bill_once_after_a_lost_answer(trestle_env, fresh_sandboxes)
    a_file_over_10_mb_is_an_issue_and_an_8_mb_one_is_uploaded(trestle_env, fresh_sandboxes)
    a_bill_file_reaches_its_direct_costs_once_after_a_lost_answer_and_the_lock_is_restored(trestle_env, fresh_sandboxes)


def claim_files_reach_the_bill_once_after_a_lost_answer(env: dict[str, str], sandboxes: Any) -> None:
    claim = seeded_claim(sandboxes)
    bill_id = claim_bill(env, claim["id"])

    set_faults(env, "TRESTLE_XERO_API_URL", lost_rate=1.0, seed=3)  # every upload commits, every answer is lost
    lost = run("claim_attachments")
    set_faults(env, "TRESTLE_XERO_API_URL", lost_rate=0.0)
    assert lost["created"] == 0 and lost["failed"] == len(CLAIM_FILES), lost
    sent_while_lost = uploads(env)
    assert sent_while_lost == len(CLAIM_FILES)

    finished = run("claim_attachments")
    assert uploads(env) == sent_while_lost, "recovery found the files on the bill: nothing resent"
    assert finished["created"] == len(CLAIM_FILES) and finished["failed"] == 0, finished
    expected = {name: file_bytes(name, size) for name, _, size in CLAIM_FILES}
    assert bill_files(env, bill_id) == expected, "each file once, byte for byte"
    links = store(env).links("claim_attachment")
    assert sorted(link.procore_id for link in links) == sorted(str(item["id"]) for item in claim["attachments"])

    again = run("claim_attachments")
    assert uploads(env) == sent_while_lost, "a second run uploads nothing"
    assert again["created"] == 0 and again["unchanged"] == len(CLAIM_FILES), again


def a_file_over_10_mb_is_an_issue_and_an_8_mb_one_is_uploaded(env: dict[str, str], sandboxes: Any) -> None:
    claim = seeded_claim(sandboxes)
    state = sandboxes.procore.server.config.app.state.procore
    eight = file_bytes("drawings.pdf", 8 * MB)
    claim["attachments"] += [
        add_file(state, "drawings.pdf", eight, "application/pdf"),
        add_file(state, "site-video.mp4", file_bytes("site-video.mp4", 20 * MB), "video/mp4"),
    ]
    before = uploads(env)

    first = run("claim_attachments")
    files = bill_files(env, claim_bill(env, claim["id"]))
    assert files["drawings.pdf"] == eight
    assert "site-video.mp4" not in files
    assert uploads(env) == before + 1, "only the 8 MB file was sent"
    assert first["created"] == 1 and first["issue_codes"] == ["claim_attachment.too_large"], first

    second = run("claim_attachments")
    assert uploads(env) == before + 1
    assert second["issue_codes"] == ["claim_attachment.too_large"], "the issue stays open, nothing is resent"


def a_bill_file_reaches_its_direct_costs_once_after_a_lost_answer_and_the_lock_is_restored(
    env: dict[str, str], sandboxes: Any
) -> None:
    bill = seeded_bill(sandboxes)
    targets = [link.procore_id for link in store(env).links("direct_cost") if link.xero_id == bill["InvoiceID"]]
    assert targets, "the seeded bill became a direct cost: the test proves something"

    set_faults(env, "TRESTLE_PROCORE_API_URL", lost_rate=1.0, seed=2)  # the first write (the unlock) is lost
    lost = run("bill_attachments")
    set_faults(env, "TRESTLE_PROCORE_API_URL", lost_rate=0.0)
    assert lost["created"] == 0 and lost["failed"] == len(targets), lost

    finished = run("bill_attachments")
    assert finished["created"] == len(targets) and finished["failed"] == 0, finished
    ((name, _, size),) = BILL_FILES
    with procore_api(env) as procore:
        for target in targets:
            project_id, direct_cost_id = target.split(":")
            shown = procore.get(f"/rest/v1.1/projects/{project_id}/direct_costs/{direct_cost_id}").json()
            assert [a["filename"] for a in shown["attachments"]] == [name], "the file once on each direct cost"
            assert httpx.get(shown["attachments"][0]["url"]).content == file_bytes(name, size)
            assert shown["origin_id"] == bill["InvoiceID"], "the origin_id lock is back"
    writes = procore_writes(env)

    again = run("bill_attachments")
    assert procore_writes(env) == writes, "a second run writes nothing to Procore"
    assert again["created"] == 0 and again["unchanged"] == len(targets), again


MEMORY_PROBE = textwrap.dedent(
    """
    import json, sys, tracemalloc
    from trestle.clients.procore import ProcoreClient
    from trestle.clients.xero import XeroClient
    from trestle.models.attachments import spooled_file
    from trestle.models.procore import ProcoreAttachment

    env, source, bill_id = json.loads(sys.argv[1])
    procore = ProcoreClient.service_account(
        client_id=env["TRESTLE_PROCORE_CLIENT_ID"], client_secret=env["TRESTLE_PROCORE_CLIENT_SECRET"],
        company_id=int(env["TRESTLE_PROCORE_COMPANY_ID"]), api_url=env["TRESTLE_PROCORE_API_URL"],
        login_url=env["TRESTLE_PROCORE_LOGIN_URL"],
    )
    xero = XeroClient.custom_connection(
        client_id=env["TRESTLE_XERO_CLIENT_ID"], client_secret=env["TRESTLE_XERO_CLIENT_SECRET"],
        tenant_id=env["TRESTLE_XERO_TENANT_ID"], api_url=env["TRESTLE_XERO_API_URL"],
        identity_url=env["TRESTLE_XERO_IDENTITY_URL"],
    )
    xero.invoice_attachments(bill_id)  # token and connections warmed up outside the measurement
    tracemalloc.start()
    with spooled_file() as file:
        size = procore.download_attachment(ProcoreAttachment.model_validate(source), file, limit=10_000_000)
        sent = xero.upload_invoice_attachment(
            bill_id, "probe.pdf", file, size, "application/pdf", idempotency_key="probe-1"
        )
    peak = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"size": size, "peak": peak, "length": sent.content_length}))
    """
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_8_mb_file_travels_with_memory_well_below_its_size(
    trestle_env: dict[str, str], fresh_sandboxes: Any
) -> None:
    state = fresh_sandboxes.procore.server.config.app.state.procore
    claim = seeded_claim(fresh_sandboxes)
    claim["attachments"].append(add_file(state, "drawings.pdf", file_bytes("drawings.pdf", 8 * MB), "application/pdf"))
    with procore_api(trestle_env) as procore:
        listed = procore.get("/rest/v1.1/requisitions", params={"project_id": claim["project_id"]}).json()
    source = next(
        item
        for c in listed
        if c["id"] == claim["id"]
        for item in c["attachments"]
        if item["filename"] == "drawings.pdf"
    )
    with xero_api(trestle_env) as xero:
        bill_id = xero.get("/Invoices", params={"page": 1}).json()["Invoices"][0]["InvoiceID"]
    probe = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, json.dumps([trestle_env, source, bill_id])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    measured = json.loads(probe.stdout.strip().splitlines()[-1])
    assert measured["size"] == measured["length"] == 8 * MB
    assert measured["peak"] < 8 * MB / 4, f"peak {measured['peak']:,} bytes for an 8 MB file"
