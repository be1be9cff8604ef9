"""Servers in child processes, so a benchmark's client and server each get a core."""

import asyncio
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from fastapi import FastAPI

from hub.serving import BackgroundServer

__all__ = ["STOP_COMMAND", "ChildServer", "serve_until_stopped"]

STOP_COMMAND = "stop"
_SERVER_START_SECONDS = 60.0


async def serve_until_stopped(app: FastAPI, pipe: Connection, seconds: float) -> None:
    """Serve ``app`` on a free port, send the port to the parent, wait for stop.

    The parent sends ``STOP_COMMAND``; the timeout of ``seconds`` bounds a
    child whose parent died.
    """
    async with BackgroundServer(app) as server:
        pipe.send(server.port)
        await asyncio.to_thread(pipe.poll, seconds)


class ChildServer:
    """A server process started with ``multiprocessing``'s spawn method.

    ``target(*args, pipe)`` runs in the child. It must send the port it
    listens on through ``pipe`` and return once the parent sends
    ``STOP_COMMAND``, as ``serve_until_stopped`` does.
    """

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...]) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child_pipe = context.Pipe()
        self._process = context.Process(
            target=target, args=(*args, child_pipe), daemon=True
        )
        self.url = ""

    async def __aenter__(self) -> "ChildServer":
        self._process.start()
        ready = await asyncio.to_thread(self._pipe.poll, _SERVER_START_SECONDS)
        if not ready:
            self._stop()
            raise TimeoutError(
                f"server process did not start in {_SERVER_START_SECONDS}s"
            )
        self.url = f"http://127.0.0.1:{self._pipe.recv()}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        if self._process.is_alive():
            self._pipe.send(STOP_COMMAND)
            self._process.join(30)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(10)
        self._pipe.close()
