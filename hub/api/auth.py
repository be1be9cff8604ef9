"""Which store a request speaks for.

NOTE: a request is not authenticated yet: any caller may read any
registered store's changes. Routes take the store through ``require_store``
so that token checks are added in one place.
"""

from typing import Annotated

from fastapi import Depends, Path

from hub.api.state import ID_PATTERN, ApiState, get_state
from hub.stores import StoreRecord

__all__ = ["require_store"]


async def require_store(
    state: Annotated[ApiState, Depends(get_state)],
    store_id: Annotated[str, Path(pattern=ID_PATTERN)],
) -> StoreRecord:
    """Return the registered store of the path's ``store_id``, or answer 404."""
    return await state.stores.get(store_id)
