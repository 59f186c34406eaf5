"""Client of the Procore REST API (v1.0 and v1.1 resources) for one company.

Every call sends ``Procore-Company-Id``. Lists ask for ``per_page=1000`` and follow the ``Link``
header's ``rel="next"``; incremental reads use ``filters[updated_at]=<from>...<to>``. Sync actions
(``PATCH …/sync``) are chunked to 1000 updates, are idempotent (records are matched by
``origin_id``) and always answer 200 with ``entities`` and ``errors``, merged into a
:class:`~trestle.clients.procore_base.SyncResult`. Plain POSTs are not idempotent: a lost answer raises
:class:`~trestle.clients.errors.OutcomeUnknownError` and is never resent.

Views: where an operation has a ``view`` parameter, the client asks for the view whose documented
attribute set carries what Trestle reads (:data:`~trestle.clients.procore_base.VIEWS`; the sets are in
``trestle/sandbox/procore/view_tables.py`` and docs/FIDELITY.md). Query parameters are spelled as
the operation documents them (``filters[id]`` on commitments, ``filters[id][]`` on vendors).

The calls are grouped by area, one module each, on :class:`~trestle.clients.procore_base.ProcoreBase`:
the Commitments tool in ``procore_commitments.py``, direct costs and their files in
``procore_direct_costs.py``; company, projects, vendors, cost codes and tax codes here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from trestle.clients.auth import ClientCredentialsAuthenticator
from trestle.clients.procore_base import VIEWS, SyncResult
from trestle.clients.procore_commitments import CommitmentsApi
from trestle.clients.procore_direct_costs import DirectCostsApi
from trestle.models.procore import (
    Company,
    CostCode,
    LineItemType,
    Me,
    Project,
    ProjectStage,
    StandardCostCode,
    StandardCostCodeList,
    TaxCode,
    Vendor,
)


class ProcoreClient(CommitmentsApi, DirectCostsApi):
    """Typed access to the Procore endpoints Trestle needs, for one company."""

    @classmethod
    def service_account(
        cls,
        *,
        client_id: str,
        client_secret: str,
        company_id: int,
        api_url: str = "https://api.procore.com",
        login_url: str = "https://login.procore.com",
        transport: httpx.BaseTransport | None = None,
        **kwargs: Any,
    ) -> ProcoreClient:
        """A client authenticated as a Developer Managed Service Account (client credentials in the body)."""
        authenticator = ClientCredentialsAuthenticator(
            f"{login_url.rstrip('/')}/oauth/token",
            client_id,
            client_secret,
            credentials_in="body",
            system="procore",
            transport=transport,
        )
        return cls(api_url=api_url, company_id=company_id, authenticator=authenticator, transport=transport, **kwargs)

    # -- company --------------------------------------------------------------------------------

    def companies(self) -> list[Company]:
        """Companies the token can reach."""
        return [Company.model_validate(item) for item in self._iter("/rest/v1.0/companies")]

    def me(self) -> Me:
        """The authenticated account."""
        return Me.model_validate(self._get("/rest/v1.0/me", "/rest/v1.0/me"))

    def iter_projects(
        self,
        *,
        updated_since: datetime | None = None,
        origin_id: str | None = None,
        by_status: str | None = None,
    ) -> Iterator[Project]:
        """Projects of the company (v1.1: with ``project_number`` and ``stage``).

        ``by_status`` is ``Active`` (Procore's default), ``Inactive`` or ``All``.
        """
        params = {
            "company_id": self.company_id,
            "filters[updated_at]": self._updated(updated_since),
            "filters[origin_id]": origin_id,
            "filters[by_status]": by_status,
            "view": VIEWS["projects"],
        }
        for item in self._iter("/rest/v1.1/projects", params=params):
            yield Project.model_validate(item)

    def project(self, project_id: int) -> Project:
        """One project."""
        route = "/rest/v1.0/projects/{id}"
        return Project.model_validate(self._get(f"/rest/v1.0/projects/{project_id}", route, company_id=self.company_id))

    def project_stages(self) -> list[ProjectStage]:
        """The company's project stages."""
        path = f"/rest/v1.0/companies/{self.company_id}/project_stages"
        items = self._iter(path, route="/rest/v1.0/companies/{company_id}/project_stages")
        return [ProjectStage.model_validate(item) for item in items]

    def iter_vendors(
        self,
        *,
        updated_since: datetime | None = None,
        origin_id: str | None = None,
        ids: Sequence[int] | None = None,
    ) -> Iterator[Vendor]:
        """Active company vendors."""
        params = {
            "company_id": self.company_id,
            "filters[updated_at]": self._updated(updated_since),
            "filters[origin_id]": origin_id,
            "filters[id][]": list(ids) if ids else None,
        }
        for item in self._iter("/rest/v1.0/vendors", params=params):
            yield Vendor.model_validate(item)

    def iter_inactive_vendors(self) -> Iterator[Vendor]:
        """Inactive company vendors (a separate list in Procore)."""
        path = f"/rest/v1.0/companies/{self.company_id}/vendors/inactive"
        for item in self._iter(path, route="/rest/v1.0/companies/{company_id}/vendors/inactive"):
            yield Vendor.model_validate(item)

    def vendor(self, vendor_id: int) -> Vendor:
        """One vendor."""
        route = "/rest/v1.0/vendors/{id}"
        return Vendor.model_validate(self._get(f"/rest/v1.0/vendors/{vendor_id}", route, company_id=self.company_id))

    def sync_vendors(self, updates: Sequence[Vendor | Mapping[str, Any]]) -> SyncResult[Vendor]:
        """Create or update vendors matched by ``id``/``origin_id`` (``PATCH /rest/v1.0/vendors/sync``)."""
        return self._sync("/rest/v1.0/vendors/sync", updates, Vendor, company_id=self.company_id)

    # -- cost codes and tax ---------------------------------------------------------------------

    def standard_cost_code_lists(self) -> list[StandardCostCodeList]:
        """Company cost code lists."""
        items = self._iter("/rest/v1.0/standard_cost_code_lists", params={"company_id": self.company_id})
        return [StandardCostCodeList.model_validate(item) for item in items]

    def iter_standard_cost_codes(self, list_id: int) -> Iterator[StandardCostCode]:
        """The codes of one company list."""
        params = {
            "company_id": self.company_id,
            "standard_cost_code_list_id": list_id,
            "view": VIEWS["standard_cost_codes"],
        }
        for item in self._iter("/rest/v1.0/standard_cost_codes", params=params):
            yield StandardCostCode.model_validate(item)

    def iter_project_cost_codes(self, project_id: int) -> Iterator[CostCode]:
        """A project's cost codes."""
        for item in self._iter("/rest/v1.0/cost_codes", params={"project_id": project_id}):
            yield CostCode.model_validate(item)

    def tax_codes(self) -> list[TaxCode]:
        """Company tax codes."""
        items = self._iter("/rest/v1.0/tax_codes", params={"company_id": self.company_id})
        return [TaxCode.model_validate(item) for item in items]

    def line_item_types(self) -> list[LineItemType]:
        """Company cost types (line item types): a direct cost line synced by cost code needs one."""
        items = self._iter("/rest/v1.0/line_item_types", params={"company_id": self.company_id})
        return [LineItemType.model_validate(item) for item in items]
