"""A ``python -m core serve`` started by hand (not by the client), and raw HTTP to it.

The hardening tests need what the add-on's client never does: no token, odd Host
and Origin headers, a stderr that cannot be written, TLS, half-sent requests.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from core.protocol import EXTENSION_ROOT, READY_PREFIX
from restyle.addon.worker.client import find_worker_python

PYTHON = find_worker_python() or sys.executable
#: Bounds (not measurements) for a worker to start and a tiny job to end, generous because
#: the test machine's two cores are often shared by many busy processes.
START_S = 300
JOB_S = 300


@dataclass
class Served:
    """One hand-started worker: its process, port, token and jobs folder."""

    proc: subprocess.Popen
    port: int
    token: str
    jobs_dir: Path
    ready: dict
    tls: ssl.SSLContext | None = None
    log: Path | None = None  # its stderr, when written to a file

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, token: str | None = "use",
                host: str | None = None) -> tuple[int, dict]:
        """One request; ``token`` "use" sends the real one, None none; JSON reply."""
        if self.tls:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30,
                                               context=self.tls)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = dict(headers or {})
        if token:
            sent.setdefault("Authorization", f"Bearer {self.token if token == 'use' else token}")
        if host is not None:
            sent["Host"] = host
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            raw = response.read()
            if response.getheader("content-type", "").startswith("application/json"):
                return response.status, json.loads(raw)
            return response.status, {"text": raw.decode("utf-8", "replace")}
        finally:
            conn.close()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def serve(tmp: Path, *args: str, token: str | None = "t0ken", log: Path | None = None,
          tls: ssl.SSLContext | None = None) -> Served:
    """Start a CPU worker on loopback with its jobs and cache under ``tmp``; wait for ready.

    ``token`` None starts it with no token at all; ``log`` receives its stderr
    (``/dev/full`` makes every log write fail with ENOSPC).
    """
    env = {**os.environ, "PYTHONPATH": str(EXTENSION_ROOT), "RESTYLE_CACHE": str(tmp / "cache")}
    env.pop("RESTYLE_TOKEN", None)
    if token:
        env["RESTYLE_TOKEN"] = token
    jobs_dir = tmp / "jobs"
    with open(log or os.devnull, "w") as stderr:
        proc = subprocess.Popen(
            [PYTHON, "-m", "core", "serve", "--jobs-dir", str(jobs_dir), "--device", "cpu",
             *args],
            stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, text=True, env=env,
            cwd=EXTENSION_ROOT,
        )
    line = proc.stdout.readline()
    if not line.startswith(READY_PREFIX):
        proc.kill()
        raise AssertionError(f"worker did not start: {line!r}")
    ready = json.loads(line[len(READY_PREFIX):])
    return Served(proc, ready["port"], token or ready["token"], jobs_dir, ready, tls, log)


def png_with_size(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width`` x ``height`` but holds a few bytes of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def wait_until(condition, timeout: float) -> bool:
    """Poll ``condition`` until true or ``timeout`` passes (a bound, not a measurement)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
