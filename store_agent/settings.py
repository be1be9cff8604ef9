"""Settings of the store agent, read from ``RETAIL_HUB_AGENT_*`` variables."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import UnknownEntityError, get_entity, validate_name

__all__ = ["AgentSettings"]


class AgentSettings(BaseSettings):
    """Store id, data sources and local database of one store agent.

    Every field is read from the environment variable named after it with the
    ``RETAIL_HUB_AGENT_`` prefix, for example ``RETAIL_HUB_AGENT_STORE_ID``.
    ``entities`` is read as a JSON list, such as ``["items"]``. Keyword
    arguments take priority over the environment.

    Raises pydantic.ValidationError for an invalid store id, an unknown entity
    or a value out of range.
    """

    model_config = SettingsConfigDict(env_prefix="RETAIL_HUB_AGENT_", extra="ignore")

    store_id: str = Field(description="Id of the store, as in its queue names.")
    mode: Literal["amqp", "pull"] = Field(
        "amqp",
        description="amqp: consume the store's queues; pull: poll the hub's HTTP API.",
    )
    hub_url: str | None = Field(
        "http://127.0.0.1:8080",
        description=(
            "Base URL of the hub's pull API. In amqp mode it is used for the"
            " catch-up pull at start; empty or None skips the catch-up."
        ),
    )
    amqp_url: str = Field(
        "amqp://guest:guest@127.0.0.1:5672/", description="RabbitMQ connection URL."
    )
    database: Path | None = Field(
        None,
        description="SQLite file of the local copy; None: ./store-<store_id>.sqlite3.",
    )
    entities: list[str] = Field(
        default_factory=lambda: ["items"],
        min_length=1,
        description="Entities the store receives.",
    )
    pull_interval_seconds: float = Field(
        30.0, gt=0, description="Seconds between two pulls in pull mode."
    )
    page_size: int = Field(
        500,
        ge=1,
        le=5000,
        description="Documents per pull request (limit); the hub allows 1 to 5000.",
    )
    prefetch: int = Field(
        8, ge=1, le=1000, description="Unacknowledged AMQP messages per queue."
    )
    requeue_delay_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description="Seconds to wait before requeueing a message whose commit failed.",
    )
    http_timeout_seconds: float = Field(
        30.0, gt=0, description="Seconds to wait for one response of the hub."
    )
    token: SecretStr | None = Field(
        None,
        description="The store's API token for the hub's pull API, shown by"
        " `retail-hub store add`.",
    )
    heartbeat_interval_seconds: float = Field(
        30.0,
        gt=0,
        description="Seconds between two heartbeats to the hub (needs hub_url).",
    )

    verify_interval_seconds: float | None = Field(
        None,
        gt=0,
        description="Seconds between two self-checks of the local copy against"
        " the hub, which repair what differs (needs hub_url); None: off.",
    )

    @field_validator("store_id")
    @classmethod
    def _check_store_id(cls, value: str) -> str:
        return validate_name("store", value)

    @field_validator("hub_url")
    @classmethod
    def _empty_hub_url_is_none(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.rstrip("/")

    @field_validator("entities")
    @classmethod
    def _check_entities(cls, value: list[str]) -> list[str]:
        for name in value:
            try:
                get_entity(name)
            except UnknownEntityError as error:
                # pydantic turns only ValueError into a validation error.
                raise ValueError(str(error)) from None
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _pull_needs_hub_url(self) -> "AgentSettings":
        if self.mode == "pull" and self.hub_url is None:
            raise ValueError("pull mode needs hub_url, the base URL of the hub")
        return self

    @property
    def database_path(self) -> Path:
        """The SQLite file of the local copy, with the default filled in."""
        if self.database is not None:
            return self.database
        return Path(f"store-{self.store_id}.sqlite3")
