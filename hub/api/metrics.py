"""Count every API response by route template and status, errors included."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.state import ApiMetrics

__all__ = ["ResponseCounter"]


class ResponseCounter:
    """ASGI middleware that counts responses in ``ApiMetrics.responses``.

    It only watches the messages go by, so the response stays as the app
    made it (unlike a BaseHTTPMiddleware, which turns it into a stream).
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            # The route template, not the path, keeps store ids out of labels.
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.metrics.responses.labels(template, str(status)).inc()
