"""Standard-library client for the Restyle worker: a local subprocess or a remote server.

Runs inside Blender's own Python (no third-party packages) and in plain Python for
tests and headless scripts. Every call is short: ``start()`` returns at once, and
``poll()``/``job()`` answer in milliseconds, so a ``bpy.app.timers`` callback or a
thread can drive a job without freezing the UI. A local worker that dies (crash,
kill, out of memory) is noticed on the next call and reported as ``WorkerDied``
with the end of its log; the call after that starts a fresh worker.
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core.protocol import EXTENSION_ROOT, FINAL_STATES, READY_PREFIX, TOKEN_ENV
from ..errors import AddonError
from ..setup.env import ready_python, venv_python

LOG_TAIL_LINES = 25
#: A job whose state has not changed for this long is taken as stuck (seconds).
STALL_TIMEOUT_S = 600.0

_LIVE_CLIENTS: weakref.WeakSet[WorkerClient] = weakref.WeakSet()


class WorkerError(AddonError):
    """The worker refused a request or cannot be reached; ``str()`` is shown to the user."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WorkerTimeout(WorkerError):
    """The worker did not answer one request in time (hung, stopped, or overloaded)."""


class JobStalled(WorkerError):
    """The worker answers but the job has not moved for the configured time."""


class WorkerDied(WorkerError):
    """The local worker process ended on its own; ``log_tail`` holds its last log lines."""

    def __init__(self, message: str, log_tail: str = "", exit_code: int | None = None) -> None:
        super().__init__(message)
        self.log_tail = log_tail
        self.exit_code = exit_code


def find_worker_python(start: str | os.PathLike | None = None,
                       worker_env: str | os.PathLike | None = None) -> str | None:
    """The Python to run the worker with: $RESTYLE_PYTHON, else the environment the add-on's
    set-up made in ``worker_env`` (once it is ready), else the nearest ``.venv``.

    Searched from ``start`` (default: the extension root) upward, so a checkout's
    ``.venv`` is found both from the source tree and from a build inside it.
    """
    env = os.environ.get("RESTYLE_PYTHON")
    if env and Path(env).is_file():
        return env
    if ready := ready_python(worker_env):
        return ready
    folder = Path(start or EXTENSION_ROOT).absolute()
    for candidate in (folder, *folder.parents):
        python = venv_python(candidate / ".venv")
        if python.is_file():
            return str(python)  # not resolved: a venv's python is a symlink
    return None


@dataclass
class _Spawn:
    """One local worker process and what its stdout reader learned about it."""

    proc: subprocess.Popen
    token: str
    log_path: Path
    log_offset: int
    ready: threading.Event = field(default_factory=threading.Event)
    port: int | None = None
    started: float = field(default_factory=time.monotonic)


class ProgressWatch:
    """Notices a job that still answers but no longer moves (e.g. its runner thread died).

    Feed it every job state; it raises ``JobStalled`` once state, progress, phase and
    message have stayed the same for more than ``limit`` seconds (None: never).
    """

    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self._mark: tuple | None = None
        self._since = time.monotonic()

    def seen(self, job: dict) -> None:
        """Record one job state; raise ``JobStalled`` if it has not changed for too long."""
        mark = tuple(job.get(key) for key in ("state", "progress", "phase", "message"))
        now = time.monotonic()
        if mark != self._mark:
            self._mark, self._since = mark, now
        elif self.limit is not None and now - self._since > self.limit:
            progress = float(job.get("progress") or 0.0)
            raise JobStalled(
                f"Job {job.get('id')} made no progress for {self.limit:.0f} s (still "
                f"'{job.get('phase') or job.get('state')}' at {progress:.0%}); the worker "
                "seems stuck, see its log."
            )


class WorkerClient:
    """Talks to one worker. Local: ``WorkerClient(python)``; remote: ``WorkerClient(url=, token=)``.

    Local options: ``jobs_dir`` (where the worker keeps jobs and results),
    ``allow_roots`` (folders whose files may be passed by path), ``device``,
    ``log_path`` (worker stdout+stderr), ``env`` (extra environment, e.g.
    RESTYLE_CACHE), ``extra_args`` (more ``serve`` options). ``timeout`` bounds
    each HTTP call; ``start_timeout`` bounds the wait for a worker to come up.
    """

    def __init__(
        self,
        python: str | os.PathLike | None = None,
        *,
        url: str | None = None,
        token: str | None = None,
        jobs_dir: str | os.PathLike | None = None,
        allow_roots: Iterable[str | os.PathLike] = (),
        device: str = "auto",
        log_path: str | os.PathLike | None = None,
        env: dict[str, str] | None = None,
        extra_args: Iterable[str] = (),
        timeout: float = 10.0,
        start_timeout: float = 120.0,
    ) -> None:
        self.url = url.rstrip("/") if url else None
        self.token = token
        self.python = str(python) if python else None
        self.jobs_dir = Path(jobs_dir) if jobs_dir else None
        self.allow_roots = [Path(root) for root in allow_roots]
        self.device = device
        self.log_path = Path(log_path) if log_path else None
        self.env = dict(env or {})
        self.extra_args = list(extra_args)
        self.timeout = timeout
        self.start_timeout = start_timeout
        self._spawn: _Spawn | None = None
        self._lock = threading.RLock()
        self._opener = urllib.request.build_opener(
            *([] if self.url else [urllib.request.ProxyHandler({})])  # never proxy loopback
        )

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def is_remote(self) -> bool:
        """True when talking to a server by URL (nothing to spawn or watch)."""
        return self.url is not None

    def start(self) -> None:
        """Spawn the local worker unless one is running; returns at once (see ``poll``)."""
        if self.is_remote:
            return
        with self._lock:
            if self._spawn is None or self._spawn.proc.poll() is not None:
                self._spawn = self._launch()

    def poll(self) -> bool:
        """Non-blocking: True once the worker accepts requests; WorkerDied if it died."""
        if self.is_remote:
            return True
        spawn = self._spawn
        if spawn is None:
            return False
        self._check_alive(spawn)
        if spawn.ready.is_set():
            return True
        if time.monotonic() - spawn.started > self.start_timeout:
            raise self._not_started(spawn, self.start_timeout)
        return False

    @property
    def ready(self) -> bool:
        """Non-raising readiness (a dead worker is simply not ready)."""
        if self.is_remote:
            return True
        spawn = self._spawn
        return spawn is not None and spawn.ready.is_set() and spawn.proc.poll() is None

    @property
    def endpoint(self) -> tuple[str, str | None] | None:
        """(base URL, token) of a ready worker, for tools that speak HTTP themselves."""
        if self.is_remote:
            return self.url, self.token
        spawn = self._spawn
        if spawn is None or not spawn.ready.is_set():
            return None
        return f"http://127.0.0.1:{spawn.port}", spawn.token

    @property
    def pid(self) -> int | None:
        """Process id of the local worker, if one was started."""
        return self._spawn.proc.pid if self._spawn else None

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until ready (for headless scripts and tests); starts the worker if needed."""
        self.start()
        timeout = self.start_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not self.poll():
            if time.monotonic() > deadline:
                raise self._not_started(self._spawn, timeout)
            time.sleep(0.05)

    @staticmethod
    def _not_started(spawn: _Spawn | None, timeout: float) -> WorkerError:
        tail = _log_tail(spawn.log_path, spawn.log_offset) if spawn else ""
        return WorkerError(f"The Restyle worker did not start within {timeout:.0f} s."
                           f" Last lines of its log:\n{tail}")

    def stop(self, grace: float = 3.0) -> None:
        """Stop the local worker: terminate, then kill if it has not exited after ``grace``."""
        with self._lock:
            spawn, self._spawn = self._spawn, None
        if spawn is None or spawn.proc.poll() is not None:
            return
        spawn.proc.terminate()
        try:
            spawn.proc.wait(grace)
        except subprocess.TimeoutExpired:
            spawn.proc.kill()
            spawn.proc.wait(5)

    def kill(self) -> None:
        """Stop the local worker at once (SIGKILL works on a stopped or hung process too).

        Never waits: the process is reaped by a thread, so the UI thread is not held up.
        """
        with self._lock:
            spawn, self._spawn = self._spawn, None
        if spawn is None or spawn.proc.poll() is not None:
            return
        spawn.proc.kill()
        threading.Thread(target=spawn.proc.wait, name="restyle-worker-reap", daemon=True).start()

    # -- API calls ---------------------------------------------------------------------------

    def health(self) -> dict:
        """``GET /health``: status, version, device, torch, queue."""
        return self._call("GET", "/health")

    def submit(self, kind: str, **body: Any) -> str:
        """Queue a job (``model``, ``styles``, ``content``, ``images``, ``settings``); its id."""
        payload = {"kind": kind, **{k: _jsonable(v) for k, v in body.items() if v is not None}}
        return self._call("POST", "/jobs", payload)["id"]

    def job(self, job_id: str) -> dict:
        """The job state: state, progress, phase, message, eta_s, results, model."""
        return self._call("GET", f"/jobs/{urllib.parse.quote(job_id)}")

    def cancel(self, job_id: str) -> dict:
        """Ask the worker to stop a job; returns its state (final a moment later)."""
        return self._call("POST", f"/jobs/{urllib.parse.quote(job_id)}/cancel")

    def delete(self, job_id: str) -> None:
        """Delete a finished job and its result files on the worker (after fetching them)."""
        self._call("DELETE", f"/jobs/{urllib.parse.quote(job_id)}")

    def wait_job(self, job_id: str, timeout: float | None = None, interval: float = 0.2,
                 stall_timeout: float | None = STALL_TIMEOUT_S) -> dict:
        """Block until the job is done, failed or cancelled (headless scripts); its state.

        Raises ``JobStalled`` when the job makes no progress for ``stall_timeout`` s and
        ``WorkerError`` past ``timeout`` or when the worker stops answering, so a script
        never waits forever on a stuck worker.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        watch = ProgressWatch(stall_timeout)
        while (state := self.job(job_id))["state"] not in FINAL_STATES:
            if deadline is not None and time.monotonic() > deadline:
                raise WorkerError(f"Job {job_id} did not finish within {timeout:.0f} s.")
            watch.seen(state)
            time.sleep(interval)
        return state

    def ref(self, path: str | os.PathLike) -> str:
        """A job ref for a local file: its absolute path (local worker) or an upload id."""
        return self.upload(path) if self.is_remote else os.path.abspath(path)

    def upload(self, path: str | os.PathLike) -> str:
        """Send a file's bytes to the worker (``POST /uploads``); returns the upload id.

        The size is checked against the worker's limit first: a worker refusing a big
        body mid-send resets the connection, which would hide its 413 message.
        """
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError as error:
            raise WorkerError(f"Cannot upload '{path}': {error.strerror}.") from error
        limit = self.health().get("max_upload_bytes")
        if limit is not None and size > limit:
            raise WorkerError(
                f"'{path.name}' is {size / 2**20:.2f} MB, over the worker's upload limit of "
                f"{limit / 2**20:.2f} MB; scale the image down or raise --max-upload-mb.",
                status=413,
            )
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size),
            "X-Filename": urllib.parse.quote(path.name),
        }
        with path.open("rb") as handle:
            return self._call("POST", "/uploads", data=handle, headers=headers)["id"]

    def fetch_result(
        self, job: str | dict, result: str | dict, dest: str | os.PathLike
    ) -> Path:
        """Put one result at ``dest`` (a file, or a folder to keep its name); returns the path.

        A local worker's result is copied from its ``path``; a remote one is downloaded.
        Written to a temporary name first, so ``dest`` is never half a file.
        """
        name = result["name"] if isinstance(result, dict) else result
        job_id = job["id"] if isinstance(job, dict) else job
        target = Path(dest) / name if Path(dest).is_dir() else Path(dest)
        partial = target.with_name(target.name + ".partial")
        source = Path(result["path"]) if isinstance(result, dict) and not self.is_remote else None
        try:
            if source is not None and source.is_file():
                shutil.copyfile(source, partial)
            else:
                path = f"/jobs/{urllib.parse.quote(job_id)}/results/{urllib.parse.quote(name)}"
                with partial.open("wb") as handle:
                    self._call("GET", path, sink=handle)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    # -- internals ---------------------------------------------------------------------------

    def _launch(self) -> _Spawn:
        """Start ``python -m core serve`` with a fresh token; a thread reads its stdout."""
        python = self.python or find_worker_python()
        if not python:
            raise WorkerError(
                "No Python found for the Restyle worker. Set the worker Python in the add-on "
                "preferences (or $RESTYLE_PYTHON) to a Python 3.11 with torch, e.g. the "
                "project's .venv made by scripts/bootstrap.sh."
            )
        token = secrets.token_urlsafe(24)
        args = [python, "-m", "core", "serve", "--port", "0", "--parent-pid", str(os.getpid()),
                "--device", self.device]
        if self.jobs_dir:
            args += ["--jobs-dir", str(self.jobs_dir)]
        for root in self.allow_roots:
            args += ["--allow-root", str(root)]
        args += self.extra_args
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
        env.update(self.env, PYTHONPATH=str(EXTENSION_ROOT), PYTHONUNBUFFERED="1")
        env[TOKEN_ENV] = token  # env, not argv: argv is visible to every local user
        log_path = self.log_path or _default_log_path(self.jobs_dir)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            log.write(f"=== Restyle worker starting {time.ctime()}: {args[:4]}\n".encode())
            offset = log.tell()
            try:
                proc = subprocess.Popen(
                    args, cwd=EXTENSION_ROOT, env=env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=log,
                    creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
                )
            except OSError as error:
                raise WorkerError(
                    f"Cannot start the Restyle worker with '{python}': {error.strerror}. "
                    "Check the worker Python in the add-on preferences."
                ) from error
        spawn = _Spawn(proc=proc, token=token, log_path=log_path, log_offset=offset)
        threading.Thread(
            target=_read_stdout, args=(spawn,), name="restyle-worker-stdout", daemon=True
        ).start()
        _LIVE_CLIENTS.add(self)
        return spawn

    def _check_alive(self, spawn: _Spawn) -> None:
        """Raise WorkerDied (once) if the process has exited; the next call respawns."""
        code = spawn.proc.poll()
        if code is None:
            return
        with self._lock:
            if self._spawn is spawn:
                self._spawn = None
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        if code == -9:
            how += " (SIGKILL: out of memory, or killed by hand)"
        tail = _log_tail(spawn.log_path, spawn.log_offset)
        raise WorkerDied(
            f"The Restyle worker (pid {spawn.proc.pid}) {how}; its jobs are lost and the next "
            f"request starts a new worker. Log: {spawn.log_path}. Last lines:\n{tail}",
            log_tail=tail,
            exit_code=code,
        )

    def _base(self) -> tuple[str, str | None, _Spawn | None]:
        """URL, token and spawn to talk to; a local worker is started and awaited if needed."""
        if self.is_remote:
            return self.url, self.token, None
        if not self.poll():
            self.wait_ready()
        spawn = self._spawn
        return f"http://127.0.0.1:{spawn.port}", spawn.token, spawn

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        data: Any = None,
        headers: dict[str, str] | None = None,
        sink: Any = None,
    ) -> Any:
        """One HTTP request; JSON in and out (or bytes into ``sink``); errors as WorkerError."""
        base, token, spawn = self._base()
        headers = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                if sink is not None:
                    shutil.copyfileobj(response, sink)
                    return None
                return json.loads(response.read() or b"null")  # 204 has no body
        except urllib.error.HTTPError as error:
            raise self._http_error(error, base) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            if spawn is not None:
                _await_exit(spawn.proc, 1.0)
                self._check_alive(spawn)
            if _timed_out(error):
                raise WorkerTimeout(f"The worker at {base} did not answer within "
                                    f"{self.timeout:.0f} s.") from None
            raise WorkerError(_unreachable(base, error)) from None

    def _http_error(self, error: urllib.error.HTTPError, base: str) -> WorkerError:
        """The worker's own ``detail`` message, or a clear one for a wrong token."""
        try:
            detail = json.loads(error.read()).get("detail")
        except (ValueError, AttributeError, OSError):
            detail = None
        if error.code == 401:
            detail = (
                f"The worker at {base} rejected the token (401); check the token in the add-on "
                "preferences matches the one the worker was started with."
            )
        return WorkerError(str(detail or f"The worker at {base} answered HTTP {error.code}."),
                           status=error.code)


def _read_stdout(spawn: _Spawn) -> None:
    """Find the ready line; copy everything else to the log (the pipe must never fill)."""
    with spawn.log_path.open("ab") as log:
        for raw in spawn.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith(READY_PREFIX) and not spawn.ready.is_set():
                try:
                    spawn.port = int(json.loads(line[len(READY_PREFIX):])["port"])
                except (ValueError, KeyError, TypeError):
                    log.write(f"unreadable ready line: {line}\n".encode())
                    continue
                spawn.ready.set()
            else:
                log.write(raw)
                log.flush()


def _await_exit(proc: subprocess.Popen, seconds: float) -> None:
    """Give a worker that just dropped a connection a moment to be seen as exited."""
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)


def _timed_out(error: Exception) -> bool:
    return isinstance(getattr(error, "reason", error), TimeoutError | socket.timeout)


def _unreachable(base: str, error: Exception) -> str:
    """A message for a connection-level failure (not a timeout) that says what to check."""
    reason = getattr(error, "reason", error)
    if isinstance(reason, ConnectionRefusedError):
        return (f"Cannot reach the Restyle worker at {base} (connection refused): check the "
                "address and port, and that the service is running.")
    if isinstance(reason, socket.gaierror):
        return f"Cannot reach the Restyle worker at {base}: unknown host name."
    return f"Cannot reach the Restyle worker at {base}: {reason}."


def _log_tail(log_path: Path, offset: int, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines this worker wrote to its log (not earlier workers' lines)."""
    try:
        with log_path.open("rb") as log:
            log.seek(max(offset, log.seek(0, os.SEEK_END) - 16384))
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return "(log unreadable)"
    return "\n".join(text.splitlines()[-lines:]) or "(the worker wrote nothing)"


def _default_log_path(jobs_dir: Path | None) -> Path:
    """``<jobs dir>/worker.log``, else one per Blender process in the temp folder."""
    if jobs_dir:
        return jobs_dir / "worker.log"
    import tempfile

    return Path(tempfile.gettempdir()) / f"restyle-worker-{os.getpid()}.log"


def _jsonable(value: Any) -> Any:
    """Paths become strings, recursively, so callers can pass ``Path`` objects."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@atexit.register
def _stop_all() -> None:
    """No orphans on a normal exit (``--parent-pid`` covers a killed parent)."""
    for client in list(_LIVE_CLIENTS):
        client.stop(grace=2.0)
