"""Admin endpoints of the simulator under ``/_simulator/``, without auth.

Tests and benchmarks use them to read and reset request counts, to
change a generated catalogue while a client is connected, and to make the
OData endpoint misbehave (see erp_simulator.faults).
"""

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from erp_simulator.catalogue import Catalogue, MutationNotSupportedError
from erp_simulator.faults import FaultSettings
from erp_simulator.mutations import MAX_ADDED_ITEMS, MutationError

__all__ = ["ADMIN_PREFIX", "MutationRequest", "build_admin_router", "stats_body"]

logger = logging.getLogger(__name__)

ADMIN_PREFIX = "/_simulator"


class MutationRequest(BaseModel):
    """The body of ``POST /_simulator/mutate``: how many items to change."""

    model_config = ConfigDict(extra="forbid", strict=True)

    edit: int = Field(0, ge=0, description="Items to edit.")
    add: int = Field(0, ge=0, le=MAX_ADDED_ITEMS, description="Items to add.")
    mark_deleted: int = Field(0, ge=0, description="Items to mark for deletion.")
    remove: int = Field(0, ge=0, description="Items to delete for good.")


def stats_body(catalogue: Catalogue) -> dict[str, Any]:
    """Return the request counts and mutation count of ``catalogue``."""
    return {
        "requests_total": catalogue.stats.requests_total,
        "requests_by_entity_set": catalogue.stats.requests_by_entity_set,
        "mutations": catalogue.mutation_count,
    }


def build_admin_router(catalogue: Catalogue) -> APIRouter:
    """Return the router of the admin endpoints of ``catalogue``."""
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["simulator"])

    @router.get("/stats")
    async def get_stats() -> dict[str, Any]:
        """Return the OData request counts and the number of mutations."""
        return stats_body(catalogue)

    @router.post("/stats/reset")
    async def reset_stats() -> dict[str, Any]:
        """Set the request counts to zero. The mutation count is kept."""
        catalogue.stats.reset()
        return stats_body(catalogue)

    @router.get("/faults")
    async def get_faults() -> FaultSettings:
        """Return the faults in force, with what is left of their counts."""
        return catalogue.faults.current()

    @router.post("/faults")
    async def set_faults(settings: FaultSettings) -> FaultSettings:
        """Replace the faults in force; an empty body turns them all off."""
        catalogue.faults.set(settings)
        return catalogue.faults.current()

    @router.post("/mutate", response_model=None)
    async def mutate(request: MutationRequest) -> dict[str, Any] | JSONResponse:
        """Apply one mutation and return its report.

        Returns 422 for counts the catalogue cannot satisfy and 409 for a
        catalogue replayed from files.
        """
        try:
            report = catalogue.mutate(**request.model_dump())
        except MutationNotSupportedError as error:
            logger.info("Rejected mutation: %s", error)
            return JSONResponse({"detail": str(error)}, status_code=409)
        except MutationError as error:
            logger.info("Rejected mutation %s: %s", request.model_dump(), error)
            return JSONResponse({"detail": str(error)}, status_code=422)
        return report.as_dict()

    return router
