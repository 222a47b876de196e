"""``python -m core serve``: parse options, bind, run uvicorn, announce readiness.

The ready line is printed only once uvicorn is accepting connections, so a client
that sees it can talk at once. With ``--parent-pid`` the worker exits by itself
when that process (Blender) is gone, even after a ``kill -9``, so no orphan stays.
A worker always has a token: started without one, it makes one and prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..protocol import READY_PREFIX, TOKEN_ENV
from .log import say

PARENT_POLL_S = 1.0
EXIT_GRACE_S = 10.0
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def build_parser() -> argparse.ArgumentParser:
    """The ``serve`` options (also shown by ``python -m core serve --help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m core serve", description="Run the Restyle stylizer worker (HTTP)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    parser.add_argument(
        "--token", default=os.environ.get(TOKEN_ENV) or None,
        help="bearer token every request must send (default: $RESTYLE_TOKEN, which keeps "
        "it out of the process list; with neither, one is generated and printed)",
    )
    parser.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME",
        help="a Host name clients may use besides loopback names, IP addresses and --host "
        "(e.g. the name a reverse proxy forwards; repeatable)",
    )
    parser.add_argument(
        "--no-local-paths", action="store_true",
        help="refuse local file paths from every client, loopback included: use behind a "
        "same-host proxy (ssh tunnel, socat, nginx), where remote clients look local",
    )
    parser.add_argument("--tls-cert", type=Path, default=None, help="PEM certificate: serve HTTPS")
    parser.add_argument("--tls-key", type=Path, default=None, help="PEM private key of --tls-cert")
    parser.add_argument("--jobs-dir", type=Path, default=None, help="job and upload folder")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--precision", default="auto",
                        help="auto, fp32 or bf16: jobs' default (auto: bf16 where fast)")
    parser.add_argument(
        "--allow-root", type=Path, action="append", default=[], metavar="DIR",
        help="folder whose files loopback clients may pass by path (repeatable)",
    )
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this pid exits")
    parser.add_argument(
        "--max-upload-mb", type=float, default=512.0, help="largest accepted upload (MB)"
    )
    parser.add_argument(
        "--keep-hours", type=float, default=24.0,
        help="delete finished jobs (results) and uploads older than this (default 24)",
    )
    parser.add_argument(
        "--stall-timeout-s", type=float, default=600.0,
        help="fail a running job that reports no progress for this long (default 600; 0: never)",
    )
    parser.add_argument(
        "--max-job-memory-mb", type=float, default=None,
        help="refuse jobs whose estimated peak memory is over this (default: no budget)",
    )
    parser.add_argument(
        "--client-timeout-s", type=float, default=10.0,
        help="close a connection whose headers, or a body that, pause longer (default 10)",
    )
    parser.add_argument(
        "--max-connections", type=int, default=64,
        help="answer 503 beyond this many open connections (default 64)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the worker until stopped; returns the process exit code."""
    args = build_parser().parse_args(argv)
    problem = _refusal(args)
    if problem:
        say(f"restyle serve: {problem}")
        return 2

    from .. import __version__
    from ..device import resolve_device
    from ..errors import RestyleError
    from ..precision import resolve_precision
    from .app import ServiceConfig, create_app

    try:
        device = str(resolve_device(args.device))
        precision = resolve_precision(device, args.precision)  # measures bf16 once if need be
    except RestyleError as error:
        say(f"restyle serve: {error}")
        return 2
    token = args.token or secrets.token_urlsafe(24)
    config = ServiceConfig(
        jobs_dir=(args.jobs_dir or _default_jobs_dir()).resolve(),
        device=device,
        precision=args.precision,
        token=token,
        hosts=_host_names(args.host, args.allow_host),
        allowed_roots=[root.resolve() for root in args.allow_root],
        local_paths=not args.no_local_paths,
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_job_memory_bytes=(int(args.max_job_memory_mb * 2**20)
                              if args.max_job_memory_mb else None),
        keep_s=args.keep_hours * 3600.0,
        stall_timeout_s=args.stall_timeout_s or None,
        client_timeout_s=args.client_timeout_s,
    )
    sock = _bind(args.host, args.port)
    port = sock.getsockname()[1]
    facts = {"port": port, "pid": os.getpid(), "version": __version__}
    if not args.token:
        facts["token"] = token
        say(f"restyle serve: no --token or RESTYLE_TOKEN given; generated token {token} "
            f"(clients send 'Authorization: Bearer {token}')")
    ready = READY_PREFIX + json.dumps(facts)
    server = _AnnouncingServer(
        uvicorn.Config(
            create_app(config), log_level="info", access_log=False, lifespan="on",
            timeout_graceful_shutdown=EXIT_GRACE_S / 2, http=_DeadlineH11,
            timeout_keep_alive=max(1, round(args.client_timeout_s)),
            limit_concurrency=args.max_connections,
            ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key,
        ),
        announce=lambda: print(ready, flush=True),
    )
    if args.parent_pid:
        _watch_parent(args.parent_pid, lambda: _stop(server, args.parent_pid))
    say(f"restyle serve: jobs in {config.jobs_dir}, device {device}, "
        f"{precision.name} ({precision.reason})")
    server.run(sockets=[sock])
    return 0


def _refusal(args: argparse.Namespace) -> str | None:
    """Why these options must not start a worker, or None."""
    if not _is_loopback_host(args.host) and not args.token:
        return (
            f"refusing to listen on '{args.host}' without --token: any machine that can reach "
            "it could run jobs and read results. Pass --token or bind 127.0.0.1."
        )
    if not 0 <= args.port <= 65535:
        return f"--port {args.port} is not a port number (0..65535; 0 picks a free one)."
    if args.max_upload_mb <= 0:
        return f"--max-upload-mb {args.max_upload_mb} must be positive."
    for name in ("keep_hours", "client_timeout_s", "max_connections", "max_job_memory_mb"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            return f"--{name.replace('_', '-')} {value} must be positive."
    if args.stall_timeout_s < 0:
        return f"--stall-timeout-s {args.stall_timeout_s} must be 0 (never) or positive."
    if (args.tls_cert is None) != (args.tls_key is None):
        return "--tls-cert and --tls-key go together: give both (PEM files) or neither."
    for tls in (args.tls_cert, args.tls_key):
        if tls is not None and not tls.is_file():
            return f"TLS file '{tls}' does not exist."
    for root in args.allow_root:
        if not root.is_dir():
            return f"--allow-root '{root}' is not an existing folder."
    return None


def _is_loopback_host(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def _host_names(host: str, extra: list[str]) -> list[str]:
    """Host header names to accept besides loopback names and IP literals."""
    names = [host, *extra]
    if host in WILDCARD_HOSTS:  # every interface: the machine's own names too
        names += [socket.gethostname(), socket.getfqdn()]
    return names


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket; binding here (not in uvicorn) tells us the port 0 picked."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    )[0]
    sock = socket.socket(family, kind, proto)
    if os.name != "nt":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    return sock


def _default_jobs_dir() -> Path:
    """Jobs live in the shared cache unless the caller chose a folder."""
    from ..store import cache_dir

    return cache_dir() / "jobs"


def _stop(server: uvicorn.Server, parent_pid: int) -> None:
    """Parent gone: shut down gracefully, and hard-exit if that hangs."""
    say(f"restyle serve: parent {parent_pid} is gone; exiting.")
    server.should_exit = True
    timer = threading.Timer(EXIT_GRACE_S, lambda: os._exit(0))
    timer.daemon = True
    timer.start()


def _watch_parent(pid: int, on_gone: Callable[[], None]) -> None:
    """Call ``on_gone`` (from a daemon thread) within ~1 s of process ``pid`` ending."""
    alive = _parent_probe(pid)

    def watch() -> None:
        while alive():
            time.sleep(PARENT_POLL_S)
        on_gone()

    threading.Thread(target=watch, name="restyle-parent-watch", daemon=True).start()


def _parent_probe(pid: int) -> Callable[[], bool]:
    """A cheap 'is pid still running' check for this platform."""
    if os.name == "nt":
        return _windows_probe(pid)
    is_our_parent = os.getppid() == pid

    def alive() -> bool:
        if is_our_parent:  # reparenting happens at exit, even before the parent is reaped
            return os.getppid() == pid
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    return alive


def _windows_probe(pid: int) -> Callable[[], bool]:
    """Hold a handle to the process so a reused pid cannot fool the check."""
    import ctypes

    kernel32 = ctypes.windll.kernel32
    kernel32.OpenProcess.restype = ctypes.c_void_p
    kernel32.WaitForSingleObject.argtypes = (ctypes.c_void_p, ctypes.c_uint32)
    handle = kernel32.OpenProcess(0x00100000, False, pid)  # SYNCHRONIZE

    def alive() -> bool:
        return bool(handle) and kernel32.WaitForSingleObject(handle, 0) != 0  # 0: signalled

    return alive


class _DeadlineH11(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose next request headers are late.

    uvicorn's own keep-alive timer starts only after a first response and any byte
    resets it, so a client that connects and sends nothing, or trickles a header,
    would hold a connection (and a --max-connections slot) for ever.
    """

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        self._arm()  # before super(): a pipelined request then starts a new cycle
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.timeout_keep_alive, self._expire, self.cycle)

    def _expire(self, cycle: object) -> None:
        """No new request began since the timer was set: close."""
        if self.cycle is cycle and not self.transport.is_closing():
            self.transport.close()


class _AnnouncingServer(uvicorn.Server):
    """uvicorn.Server that calls ``announce`` once it is really accepting connections."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self.announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.announce()


if __name__ == "__main__":
    sys.exit(main())
