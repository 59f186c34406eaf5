"""Links to records in the Procore and Xero web apps (and the sandbox pages that mirror them).

Paths follow the real web apps; in sandbox mode only the base URLs change, and the sandbox
serves a page at each of these paths (docs/ARCHITECTURE.md lists them).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class WebLinks:
    procore_web_url: str
    procore_company_id: int | None
    xero_web_url: str

    # ------------------------------------------------------------------ Xero
    def xero_contact(self, contact_id: str) -> str:
        return f"{self.xero_web_url}/Contacts/View/{quote(contact_id)}"

    def xero_bill(self, invoice_id: str) -> str:
        return f"{self.xero_web_url}/AccountsPayable/View.aspx?InvoiceID={quote(invoice_id)}"

    def xero_credit_note(self, credit_note_id: str) -> str:
        return f"{self.xero_web_url}/AccountsPayable/ViewCreditNote.aspx?creditNoteID={quote(credit_note_id)}"

    def xero_purchase_order(self, purchase_order_id: str) -> str:
        return f"{self.xero_web_url}/Accounts/Payable/PurchaseOrders/View/{quote(purchase_order_id)}"

    def xero_tracking_category(self, category_id: str) -> str:
        return f"{self.xero_web_url}/Setup/Tracking.aspx?CategoryID={quote(category_id)}"

    # --------------------------------------------------------------- Procore
    def procore_vendor(self, vendor_id: str | int) -> str:
        return f"{self.procore_web_url}/{self.procore_company_id}/company/vendors/{vendor_id}"

    def procore_project(self, project_id: str | int) -> str:
        return f"{self.procore_web_url}/{project_id}/project/home"

    def procore_commitment(self, project_id: str | int, kind: str, commitment_id: str | int) -> str:
        return f"{self.procore_web_url}/{project_id}/project/commitments/{kind}_contracts/{commitment_id}"

    def procore_requisition(self, project_id: str | int, requisition_id: str | int) -> str:
        return f"{self.procore_web_url}/{project_id}/project/commitments/requisitions/{requisition_id}"

    def procore_contract_payment(self, project_id: str | int, payment_id: str | int) -> str:
        return f"{self.procore_web_url}/{project_id}/project/commitments/contract_payments/{payment_id}"

    def procore_direct_cost(self, project_id: str | int, direct_cost_id: str | int) -> str:
        return f"{self.procore_web_url}/{project_id}/project/direct_costs/{direct_cost_id}"

    def procore_cost_codes(self) -> str:
        return f"{self.procore_web_url}/{self.procore_company_id}/company/cost_codes"
