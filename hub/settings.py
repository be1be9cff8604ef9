"""Settings of the hub services, read from ``RETAIL_HUB_*`` environment variables."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Where the servers are and how the hub uses them.

    Every field is read from the environment variable named after it with the
    ``RETAIL_HUB_`` prefix, for example ``RETAIL_HUB_MONGO_URL``.
    """

    model_config = SettingsConfigDict(env_prefix="RETAIL_HUB_", extra="ignore")

    mongo_url: str = Field(
        "mongodb://127.0.0.1:27017",
        description="MongoDB (or FerretDB) connection string.",
    )
    mongo_database: str = Field("retail_hub", description="Database of the hub.")
    mongo_timeout_ms: int = Field(
        2000,
        ge=100,
        description="Milliseconds to wait for the repository before failing.",
    )
    amqp_url: str = Field(
        "amqp://guest:guest@127.0.0.1:5672/", description="RabbitMQ connection URL."
    )
    exchange: str = Field(
        "retail-hub.changes", description="Topic exchange that carries changes."
    )
    queue_type: Literal["classic", "quorum"] = Field(
        "classic", description="Type of the stores' queues."
    )
    erp_url: str = Field(
        "http://127.0.0.1:8081", description="Base URL of the 1C web server."
    )
    erp_infobase: str = Field("erp", description="Name of the 1C infobase.")
    erp_user: str = Field("hub", description="ERP user for HTTP Basic auth.")
    erp_password: SecretStr = Field(
        SecretStr("hub"), description="Password of the ERP user."
    )
    erp_page_size: int = Field(
        1000, ge=1, le=100_000, description="Records per OData request ($top)."
    )
    erp_timeout_seconds: float = Field(
        120.0, gt=0, description="Seconds to wait for one OData response."
    )
    max_delete_share: float = Field(
        0.2,
        ge=0,
        le=1,
        description="A run that would delete more than this share of an entity stops.",
    )
    publish_batch_size: int = Field(
        500, ge=1, description="Maximum documents in one AMQP message."
    )
    publish_batch_bytes: int = Field(
        1_000_000, ge=1024, description="Maximum body size of one AMQP message."
    )
    api_host: str = Field("127.0.0.1", description="Address the pull API binds to.")
    api_port: int = Field(8080, ge=0, le=65535, description="Port of the pull API.")
    operator_token: SecretStr | None = Field(
        None,
        description="Bearer token of the operator routes (/v1/connectors);"
        " None disables them.",
    )
    dead_letter_exchange: str = Field(
        "retail-hub.dead-letter",
        description="Direct exchange of messages that store queues dead-letter.",
    )
    queue_max_length: int = Field(
        10_000,
        ge=1,
        description="Messages a store queue holds at most; beyond, the oldest"
        " are dead-lettered.",
    )
    store_backlog_limit: int = Field(
        5_000,
        ge=1,
        description="A store queue with this many messages is no longer fed,"
        " and the store catches up by pulling.",
    )
    publish_interval_seconds: float = Field(
        5.0, gt=0, description="Seconds between two cycles of the publisher loop."
    )
    api_rate_per_second: float = Field(
        20.0, gt=0, description="Pull API requests per second allowed to one store."
    )
    api_rate_burst: int = Field(
        40, ge=1, description="Requests one store may send at once above the rate."
    )
    api_cache_documents: int = Field(
        100_000,
        ge=0,
        description="Newest committed documents per entity that each pull API"
        " process keeps in memory (roughly 1 KB each); 0 reads every page from"
        " the repository.",
    )
    amqp_management_url: str = Field(
        "http://127.0.0.1:15672",
        description="RabbitMQ management HTTP API, used to create store users.",
    )
    amqp_management_user: str | None = Field(
        None, description="Management API user; None: the user of amqp_url."
    )
    amqp_management_password: SecretStr | None = Field(
        None, description="Management API password; None: the password of amqp_url."
    )
