"""Build the simulator's ASGI app: the OData endpoint and the admin endpoints."""

from fastapi import FastAPI

from erp_simulator.admin import ADMIN_PREFIX, build_admin_router
from erp_simulator.catalogue import Catalogue
from erp_simulator.odata import ODataService

__all__ = ["create_app"]


def create_app(
    catalogue: Catalogue,
    infobase: str = "erp",
    user: str = "hub",
    password: str = "hub",
) -> FastAPI:
    """Return an app that serves ``catalogue`` as infobase ``infobase``.

    OData is served at ``/<infobase>/odata/standard.odata/`` to HTTP Basic
    user ``user`` with ``password``, and the admin endpoints at
    ``/_simulator/`` to anyone. The app stores ``catalogue`` in
    ``app.state.catalogue``. Raises ValueError for an empty infobase name
    or one with ``/``.
    """
    app = FastAPI(
        title="retail-hub ERP simulator",
        docs_url=f"{ADMIN_PREFIX}/docs",
        redoc_url=None,
        openapi_url=f"{ADMIN_PREFIX}/openapi.json",
    )
    app.state.catalogue = catalogue
    app.include_router(ODataService(catalogue, infobase, user, password).router())
    app.include_router(build_admin_router(catalogue))
    return app
