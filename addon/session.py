"""The one worker client of this Blender session: started lazily, stopped at exit.

Local mode spawns ``python -m core serve`` from the extension's own folder with the
worker Python from the preferences; remote mode talks to a server URL. A client whose
worker died is dropped, so the next run starts a fresh one.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from .worker.client import WorkerClient

_client: WorkerClient | None = None
_root: Path | None = None
_atexit_registered = False


class SetupError(RuntimeError):
    """The worker cannot be started until the user fixes a preference (message says how)."""


def session_root() -> Path:
    """This session's temp folder: the worker's jobs folder and the runs' input folders."""
    global _root
    if _root is None or not _root.is_dir():
        _root = Path(tempfile.mkdtemp(prefix="restyle-session-"))
    return _root


def new_job_dir() -> Path:
    """A fresh folder for one run's inputs (under the worker's allowed root)."""
    runs = session_root() / "runs"
    runs.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=runs))


def is_remote(prefs) -> bool:
    return prefs.worker_mode == "REMOTE"


def _make_client(prefs) -> WorkerClient:
    """A new, not yet started client configured from the preferences."""
    from .preferences import resolved_python

    if is_remote(prefs):
        if not prefs.remote_url.strip():
            raise SetupError("Remote worker selected but no server URL set: Edit > Preferences "
                             "> Add-ons > Restyle > Server URL")
        return WorkerClient(url=prefs.remote_url.strip(), token=prefs.remote_token or None)
    python = resolved_python(prefs)
    if not python or not os.path.isfile(python):
        raise SetupError("No worker Python found: set Edit > Preferences > Add-ons > Restyle "
                         "> Worker Python to the python of the Restyle .venv (see README)")
    root = session_root()
    return WorkerClient(python, jobs_dir=root / "jobs", allow_roots=[root], device=prefs.device)


def get_client(prefs) -> WorkerClient:
    """The session's client, created and started on first use (start does not block)."""
    global _client, _atexit_registered
    if _client is None:
        _client = _make_client(prefs)
        _client.start()
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True
    return _client


def current_client() -> WorkerClient | None:
    """The running client, if any (tests use it to find the worker's pid)."""
    return _client


def drop_client() -> None:
    """Forget the client (after its worker died or the preferences changed)."""
    global _client
    client, _client = _client, None
    if client is not None:
        with contextlib.suppress(Exception):  # the worker may already be gone
            client.stop()


def shutdown() -> None:
    """Stop the worker and delete the session's temp folder (unregister and exit)."""
    global _root
    drop_client()
    if _root is not None:
        shutil.rmtree(_root, ignore_errors=True)
        _root = None
