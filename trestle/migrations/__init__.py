"""Alembic migrations for the link store (applied by ``trestle db upgrade``)."""
