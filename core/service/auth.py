"""The gate every request passes before any route: Host, Origin, token, body size and pace.

A pure ASGI middleware (not a route dependency) so the OpenAPI document and docs
pages are behind the token too, and an upload or a job body is refused before
its bytes are read. The worker always has a token (``serve`` makes one when none
is given), so a web page cannot drive it; the Host check stops DNS rebinding and
the Origin check refuses cross-site browser requests outright.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Host names that always mean "this machine".
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: Largest JSON body a route other than ``POST /uploads`` reads (a job body is a few kB).
MAX_JSON_BYTES = 1024 * 1024
UPLOAD_PATH = "/uploads"
HEALTH_PATH = "/health"


def host_name(value: str) -> str:
    """The lower-case name or address of a Host header value, without port or brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def is_ip_literal(name: str) -> bool:
    """True for a dotted IPv4 or an IPv6 address (DNS rebinding needs a domain name)."""
    import ipaddress

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass
class GateConfig:
    """What the gate enforces; ``hosts`` are extra allowed Host names (lower case)."""

    token: str
    hosts: Iterable[str] = ()
    max_upload_bytes: int = 512 * 1024 * 1024
    client_timeout_s: float = 10.0
    allowed: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.allowed = LOOPBACK_NAMES | {host_name(host) for host in self.hosts}

    def token_matches(self, header: bytes | str | None) -> bool:
        """``Authorization: Bearer <token>``, scheme in any case (RFC 7235), constant-time."""
        if isinstance(header, str):
            header = header.encode("latin-1", "replace")
        scheme, _, given = (header or b"").strip().partition(b" ")
        expected = self.token.encode()
        return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), expected)

    def host_allowed(self, name: str) -> bool:
        """A loopback name, an IP literal, the configured host or an --allow-host name."""
        return name in self.allowed or is_ip_literal(name)


class RequestGate:
    """Answers 400/403/401/413 before the app, and bounds how slowly a body may arrive."""

    def __init__(self, app: ASGIApp, config: GateConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1")
                   for key, value in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, detail = refusal
            extra = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
            await JSONResponse({"detail": detail}, status, headers=extra)(scope, receive, send)
            return
        await self.app(scope, self._paced(receive, scope["path"]), send)

    def _limit(self, path: str) -> int:
        """Largest body this route takes."""
        return self.config.max_upload_bytes if path == UPLOAD_PATH else MAX_JSON_BYTES

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, detail) for a request that must not reach the app, else None."""
        host = host_name(headers.get("host", ""))
        if not self.config.host_allowed(host):
            return 400, (
                f"Host '{host}' is not a name this worker answers to; use 127.0.0.1, or start "
                "the worker with --allow-host for the name clients use."
            )
        origin = headers.get("origin")
        if origin is not None and not self.config.host_allowed(host_name(urlsplit(origin).netloc)):
            return 403, f"Cross-site request from '{origin}' refused."
        is_health = scope["path"] == HEALTH_PATH and scope["method"] in ("GET", "HEAD")
        if not is_health and not self.config.token_matches(headers.get("authorization")):
            return 401, (
                "Missing or wrong token: send 'Authorization: Bearer <token>' with the token "
                "this worker was started with (--token or RESTYLE_TOKEN)."
            )
        declared = headers.get("content-length", "")
        limit = self._limit(scope["path"])
        if declared.isdigit() and int(declared) > limit:
            return 413, _too_big(scope["path"], limit)
        return None

    def _paced(self, receive: Receive, path: str) -> Receive:
        """``receive`` that fails with 408 on a stalled body and 413 past the route's limit."""
        limit = self._limit(path)
        state = {"size": 0, "done": False}
        timeout = self.config.client_timeout_s

        async def paced() -> Message:
            if state["done"]:  # after the body: waiting for a disconnect is not a stall
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                raise HTTPException(
                    408, f"The request body stalled (nothing for {timeout:g} s); send it again."
                ) from None
            if message["type"] == "http.request":
                state["size"] += len(message.get("body", b""))
                state["done"] = not message.get("more_body", False)
                if state["size"] > limit:
                    raise HTTPException(413, _too_big(path, limit))
            else:
                state["done"] = True
            return message

        return paced


def _too_big(path: str, limit: int) -> str:
    """The 413 sentence for a body over its route's limit."""
    if path == UPLOAD_PATH:
        return (f"Upload is larger than this worker's limit of {limit / 2**20:.2f} MB; "
                "raise --max-upload-mb or send a smaller file.")
    return (f"The request body is larger than {limit // 1024} kB; a job body names its images "
            "by ref, so send fewer images per job.")
