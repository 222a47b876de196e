"""Bearer-token gate for every route except ``GET /health``.

A pure ASGI middleware (not a route dependency) so the OpenAPI document and
docs pages are behind the token too, and uploads are refused before any byte
of their body is read.
"""

from __future__ import annotations

import hmac

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class TokenGate:
    """Answers 401 unless ``Authorization: Bearer <token>`` matches (constant-time)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._allowed(scope):
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {
                "detail": "Missing or wrong token: send 'Authorization: Bearer <token>' with "
                "the token this worker was started with (--token)."
            },
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        if self.expected is None or scope["type"] != "http":
            return True
        if scope["path"] == "/health" and scope["method"] in ("GET", "HEAD"):
            return True
        given = dict(scope["headers"]).get(b"authorization", b"")
        return hmac.compare_digest(given, self.expected)
