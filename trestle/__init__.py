"""Trestle: self-hosted Procore <-> Xero integrations built as Prefect 3 flows."""

__version__ = "0.1.0"
