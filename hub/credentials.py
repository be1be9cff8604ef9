"""Secrets of a store: its API token and its RabbitMQ user.

The hub stores only the SHA-256 hash of an API token, so the token is shown
once, when it is made. A broker user's password is kept only by RabbitMQ (as
its own salted hash) and is likewise shown once.

A store's broker user may read its own queues and nothing else: the
permissions on the vhost are configure ``^$``, write ``^$`` and read
``^store\\.<id>\\.``. So it can consume ``store.<id>.<entity>`` but cannot
declare, bind, delete or publish to any queue or exchange.
"""

import functools
import hashlib
import hmac
import logging
import re
import secrets
import ssl
from dataclasses import dataclass
from types import TracebackType
from typing import Self
from urllib.parse import quote, unquote, urlsplit

import httpx

from contracts import validate_name
from hub.errors import BrokerManagementError
from hub.settings import Settings

__all__ = [
    "BrokerAdmin",
    "StoreSecrets",
    "amqp_url_with_user",
    "broker_user_name",
    "hash_token",
    "new_secret",
    "store_permissions",
    "token_matches",
]

logger = logging.getLogger(__name__)

_SECRET_BYTES = 32
_MANAGEMENT_TIMEOUT_SECONDS = 10.0
_QUEUE_PAGE_SIZE = 500
_MAX_QUEUE_PAGES = 10


@dataclass(frozen=True)
class StoreSecrets:
    """Secrets made for a store, to show to the operator once."""

    api_token: str | None = None
    broker_user: str | None = None
    broker_password: str | None = None


def new_secret() -> str:
    """Return a random URL-safe secret of 32 bytes (43 characters)."""
    return secrets.token_urlsafe(_SECRET_BYTES)


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of ``token``, as stored in the store document."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, stored_hash: str | None) -> bool:
    """Return whether ``token`` hashes to ``stored_hash``, in constant time."""
    if not stored_hash:
        return False
    return hmac.compare_digest(hash_token(token), stored_hash)


def broker_user_name(store_id: str) -> str:
    """Return the RabbitMQ user name of a store."""
    return f"store-{validate_name('store', store_id)}"


def store_permissions(store_id: str) -> dict[str, str]:
    """Return the vhost permissions of a store's user: read its own queues only."""
    own_queues = re.escape(f"store.{validate_name('store', store_id)}.")
    return {"configure": "^$", "write": "^$", "read": f"^{own_queues}"}


@functools.cache
def _management_ssl_context() -> ssl.SSLContext:
    # Building an SSL context loads the CA bundle, which took about 0.2 s on
    # 2 CPUs. Each registration opens a client, so all clients share one.
    return httpx.create_ssl_context()


class BrokerAdmin:
    """A client of RabbitMQ's management HTTP API for store users and queues.

    Use it as an async context manager. Every method raises
    BrokerManagementError when the API is unreachable or rejects the request.
    """

    def __init__(self, url: str, user: str, password: str, vhost: str) -> None:
        self.vhost = vhost
        self._client = httpx.AsyncClient(
            base_url=url.rstrip("/") + "/api",
            auth=(user, password),
            timeout=_MANAGEMENT_TIMEOUT_SECONDS,
            verify=_management_ssl_context(),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "BrokerAdmin":
        """Create a client; user, password and vhost default to those of amqp_url."""
        amqp = urlsplit(settings.amqp_url)
        user = settings.amqp_management_user or unquote(amqp.username or "guest")
        if settings.amqp_management_password is not None:
            password = settings.amqp_management_password.get_secret_value()
        else:
            password = unquote(amqp.password or "guest")
        vhost = unquote(amqp.path[1:]) if len(amqp.path) > 1 else "/"
        return cls(settings.amqp_management_url, user, password, vhost)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    async def exists(self, user: str) -> bool:
        """Return whether RabbitMQ has the user ``user``."""
        response = await self._request("GET", f"/users/{quote(user, safe='')}")
        return response.status_code == httpx.codes.OK

    async def put_store_user(self, store_id: str, password: str) -> str:
        """Create or update the store's user with ``password`` and its permissions.

        Returns the user name. Setting the password of an existing user
        replaces it, so the old one stops working for new connections.
        """
        user = broker_user_name(store_id)
        path_user = quote(user, safe="")
        await self._request(
            "PUT", f"/users/{path_user}", json={"password": password, "tags": ""}
        )
        await self.set_permissions(store_id)
        return user

    async def set_permissions(self, store_id: str) -> None:
        """Set the store user's permissions on the vhost (see the module doc)."""
        user = quote(broker_user_name(store_id), safe="")
        vhost = quote(self.vhost, safe="")
        await self._request(
            "PUT", f"/permissions/{vhost}/{user}", json=store_permissions(store_id)
        )

    async def delete_store_user(self, store_id: str) -> bool:
        """Delete the store's user; return False if it did not exist."""
        user = broker_user_name(store_id)
        response = await self._request("DELETE", f"/users/{quote(user, safe='')}")
        return response.status_code != httpx.codes.NOT_FOUND

    async def store_queues(self, store_id: str) -> list[str]:
        """Return the names of every queue of the store (``store.<id>.*``)."""
        vhost = quote(self.vhost, safe="")
        names: list[str] = []
        for page in range(1, _MAX_QUEUE_PAGES + 1):
            params = {
                "page": str(page),
                "page_size": str(_QUEUE_PAGE_SIZE),
                "name": store_permissions(store_id)["read"],
                "use_regex": "true",
                "columns": "name",
            }
            response = await self._request("GET", f"/queues/{vhost}", params=params)
            body = response.json() if response.status_code == httpx.codes.OK else {}
            names += [item["name"] for item in body.get("items", [])]
            if page >= int(body.get("page_count", 0)):
                return names
        # NOTE: more queues than this per store are not expected; the rest
        # stay until the next removal.
        logger.warning("store %s: more than %d queues listed", store_id, len(names))
        return names

    async def _request(
        self,
        method: str,
        path: str,
        json: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = await self._client.request(
                method, path, json=json, params=params
            )
        except httpx.TransportError as error:
            raise BrokerManagementError(
                f"RabbitMQ management API at {self._client.base_url} is unreachable"
                f" ({type(error).__name__}: {error}); check"
                " RETAIL_HUB_AMQP_MANAGEMENT_URL and the management plugin"
            ) from None
        if response.status_code >= 400 and response.status_code != 404:
            raise BrokerManagementError(
                f"{method} {path} on the RabbitMQ management API returned"
                f" {response.status_code}: {response.text[:200]}"
            )
        if response.status_code == 404 and method != "GET" and method != "DELETE":
            raise BrokerManagementError(
                f"{method} {path} on the RabbitMQ management API returned 404;"
                f" does the vhost {self.vhost!r} exist?"
            )
        return response


def amqp_url_with_user(amqp_url: str, user: str, password: str) -> str:
    """Return ``amqp_url`` with its user and password replaced."""
    parsed = urlsplit(amqp_url)
    host = parsed.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parsed.port}" if parsed.port else ""
    userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return parsed._replace(netloc=f"{userinfo}@{host}{port}").geturl()
