"""Wire models (pydantic) for Procore and Xero, and the link-store tables (SQLAlchemy)."""
