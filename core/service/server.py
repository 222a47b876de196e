"""``python -m core serve``: parse options, bind, run uvicorn, announce readiness.

The ready line is printed only once uvicorn is accepting connections, so a client
that sees it can talk at once. With ``--parent-pid`` the worker exits by itself
when that process (Blender) is gone, even after a ``kill -9``, so no orphan stays.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn

READY_PREFIX = "RESTYLE_READY "
PARENT_POLL_S = 1.0
EXIT_GRACE_S = 10.0


def build_parser() -> argparse.ArgumentParser:
    """The ``serve`` options (also shown by ``python -m core serve --help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m core serve", description="Run the Restyle stylizer worker (HTTP)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    parser.add_argument(
        "--token", default=os.environ.get("RESTYLE_TOKEN") or None,
        help="bearer token every request must send (default: $RESTYLE_TOKEN, which keeps "
        "it out of the process list)",
    )
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the worker until stopped; returns the process exit code."""
    args = build_parser().parse_args(argv)
    problem = _refusal(args)
    if problem:
        print(f"restyle serve: {problem}", file=sys.stderr, flush=True)
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
        print(f"restyle serve: {error}", file=sys.stderr, flush=True)
        return 2
    config = ServiceConfig(
        jobs_dir=(args.jobs_dir or _default_jobs_dir()).resolve(),
        device=device,
        precision=args.precision,
        token=args.token,
        allowed_roots=[root.resolve() for root in args.allow_root],
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        keep_s=args.keep_hours * 3600.0,
    )
    sock = _bind(args.host, args.port)
    port = sock.getsockname()[1]
    ready = READY_PREFIX + json.dumps({"port": port, "pid": os.getpid(), "version": __version__})
    server = _AnnouncingServer(
        uvicorn.Config(create_app(config), log_level="info", access_log=False, lifespan="on",
                       timeout_graceful_shutdown=EXIT_GRACE_S / 2),
        announce=lambda: print(ready, flush=True),
    )
    if args.parent_pid:
        _watch_parent(args.parent_pid, lambda: _stop(server, args.parent_pid))
    print(f"restyle serve: jobs in {config.jobs_dir}, device {device}, "
          f"{precision.name} ({precision.reason})", file=sys.stderr, flush=True)
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
    if args.keep_hours <= 0:
        return f"--keep-hours {args.keep_hours} must be positive."
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
    print(f"restyle serve: parent {parent_pid} is gone; exiting.", file=sys.stderr, flush=True)
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
