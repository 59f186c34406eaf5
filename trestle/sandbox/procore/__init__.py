"""A local simulator of the Procore REST API (v1.0/v1.1 financial endpoints and OAuth).

``create_app(runtime)`` builds the FastAPI app; see ``docs/ARCHITECTURE.md`` and
``../shared/reference/procore/API_NOTES.md`` for what it imitates.
"""

from .api import create_app
from .guard import RateLimits

__all__ = ["RateLimits", "create_app"]
