"""Run an ASGI app on uvicorn inside the current event loop.

The demo and the tests start the ERP simulator and the pull API this way, on
a free loopback port, and stop them when done.
"""

import asyncio
import socket
from types import TracebackType
from typing import Any, Self

import uvicorn

__all__ = ["BackgroundServer", "free_port"]

_START_TIMEOUT_SECONDS = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class BackgroundServer:
    """A uvicorn server running as a task of the current event loop.

    Use it as an async context manager, or call ``start`` and ``stop``.
    ``url`` is the base URL once started.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(
            app, host=host, port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start serving, and return once the server accepts connections."""
        self._task = asyncio.create_task(self._server.serve())
        deadline = asyncio.get_running_loop().time() + _START_TIMEOUT_SECONDS
        while not self._server.started:
            if self._task.done():
                # serve() returned early, usually because the port is taken;
                # result() re-raises its error, if it had one.
                self._task.result()
                raise RuntimeError(f"server on {self.url} stopped while starting")
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"server on {self.url} did not start in time")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop serving and wait for open requests to finish."""
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
