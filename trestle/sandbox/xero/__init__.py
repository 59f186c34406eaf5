"""A local simulator of the Xero Accounting API (and the bits of Xero identity clients use).

Start it with :func:`create_app` and any ASGI server; see ``api.py`` for how the parts fit.
"""

from trestle.sandbox.xero.api import create_app

__all__ = ["create_app"]
