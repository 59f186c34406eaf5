"""The Trestle portal: review issues, records, runs and integration specifications behind a Procore sign-in.

``trestle portal`` (and ``trestle up``) serve :func:`trestle.portal.app.create_app` with uvicorn;
:func:`serve` is that entry point.
"""

from __future__ import annotations


def serve(host: str | None = None, port: int | None = None) -> None:
    """Serve the portal until interrupted (host and port default to the ``[portal]`` settings)."""
    import uvicorn

    from trestle.portal.app import PortalConfig, create_app

    config = PortalConfig.load()
    uvicorn.run(
        create_app(config),
        host=host or config.portal.host,
        port=config.portal.port if port is None else port,
        log_level="warning",
        access_log=False,
    )
