"""Local simulators of the Xero Accounting API and the Procore REST API."""
