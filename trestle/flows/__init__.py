"""One thin Prefect flow per integration, plus the nightly and single-project flows."""

from __future__ import annotations

from trestle.flows.vendors import vendors_flow

FLOWS = {
    "vendors": vendors_flow,
}
