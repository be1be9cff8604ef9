"""Authentication of store requests, and their rate limit.

Every store route takes its store through ``require_store``, which checks
the ``Authorization: Bearer <token>`` header against the token hashes of the
registered stores and then the store's request-rate limit.
"""

from typing import Annotated

from fastapi import Depends, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.api.state import ID_PATTERN, ApiState, get_state
from hub.errors import InvalidTokenError
from hub.stores import StoreRecord

__all__ = ["require_store"]

_bearer = HTTPBearer(
    auto_error=False,
    description="The store's API token, shown by `retail-hub store add`.",
)


async def require_store(
    state: Annotated[ApiState, Depends(get_state)],
    store_id: Annotated[str, Path(pattern=ID_PATTERN)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> StoreRecord:
    """Return the path's store if the request carries its API token.

    Raises InvalidTokenError (401) for a missing or unknown token,
    StoreAccessDeniedError (403) for another store's token,
    StoreNotFoundError (404) for a valid token and an unknown store, and
    RateLimitedError (429) when the store exceeds its request rate.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise InvalidTokenError(
            "missing API token: send the header Authorization: Bearer <token>"
        )
    store = await state.stores.authorize(store_id, credentials.credentials)
    state.rate_limiter.acquire(store.store_id)
    return store
