"""What every route of the API shares: settings, repository, stores, metrics."""

from dataclasses import dataclass, field
from typing import cast

from fastapi import Request
from prometheus_client import CollectorRegistry, Counter

from hub.api.change_cache import ChangeCache
from hub.api.pull_recorder import PullRecorder
from hub.api.ratelimit import RateLimiter
from hub.repository import Repository
from hub.settings import Settings
from hub.stores import StoreRegistry

__all__ = ["ID_PATTERN", "ApiMetrics", "ApiState", "get_state"]

# The pattern of store and group ids (see contracts.validate_name).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


@dataclass
class ApiMetrics:
    """Prometheus metrics of the API, in a registry of this app's own."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.pull_requests = Counter(
            "retail_hub_pull_requests",
            "Pull API requests answered, by entity.",
            ["entity"],
            registry=self.registry,
        )
        self.responses = Counter(
            "retail_hub_api_responses",
            "API responses by route template and HTTP status, errors included.",
            ["route", "status"],
            registry=self.registry,
        )
        self.pull_documents = Counter(
            "retail_hub_pull_documents",
            "Documents and tombstones served by the pull API, by entity.",
            ["entity"],
            registry=self.registry,
        )


@dataclass
class ApiState:
    """The objects the routes use, kept in ``app.state.hub``."""

    settings: Settings
    repository: Repository
    stores: StoreRegistry
    metrics: ApiMetrics
    rate_limiter: RateLimiter
    change_cache: ChangeCache
    pull_recorder: PullRecorder


def get_state(request: Request) -> ApiState:
    """Return the app's shared state; use it as a FastAPI dependency."""
    return cast(ApiState, request.app.state.hub)
