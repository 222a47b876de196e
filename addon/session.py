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

from .errors import AddonError
from .setup.env import SET_UP_HINT
from .worker.client import WorkerClient

_client: WorkerClient | None = None
_client_key: tuple = ()
_root: Path | None = None
_atexit_registered = False
#: A file in the session folder: when it is missing, the folder was deleted under us.
_MARKER = ".restyle-session"


class SetupError(AddonError):
    """The worker cannot be started until the user fixes a preference (message says how)."""


def session_root() -> Path:
    """This session's temp folder: the worker's jobs folder and the runs' input folders.

    If something deleted it (a temp cleaner, by hand), a new one is made and the local
    worker, which may only read the old folder, is stopped so the next run starts one
    that reads the new folder.
    """
    global _root
    if _root is not None and not (_root / _MARKER).is_file():  # gone, maybe remade empty
        _root = None
        if _client is not None and not _client.is_remote:
            drop_client()
    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="restyle-session-"))
        (_root / _MARKER).write_bytes(b"")
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
        raise SetupError(f"No worker Python found: {SET_UP_HINT}")
    root = session_root()
    return WorkerClient(python, jobs_dir=root / "jobs", allow_roots=[root], device=prefs.device)


def _config_key(prefs) -> tuple:
    """The preferences a worker was made from; a change means a new worker next run."""
    return (prefs.worker_mode, prefs.remote_url, prefs.remote_token, prefs.worker_python,
            prefs.device)


def get_client(prefs) -> WorkerClient:
    """The session's client, created and started on first use (start does not block).

    Runs keep the client they started with, so changing the preferences mid-run only
    affects the next run.
    """
    global _client, _client_key, _atexit_registered
    if _client is not None and _client_key != _config_key(prefs):
        drop_client()
    if _client is None:
        _client = _make_client(prefs)
        _client_key = _config_key(prefs)
        _client.start()
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True
    return _client


def current_client() -> WorkerClient | None:
    """The running client, if any (tests use it to find the worker's pid)."""
    return _client


def drop_client(only: WorkerClient | None = None, kill: bool = False) -> None:
    """Forget (and stop) the client, or only ``only`` if that is still the current one.

    ``kill``: the worker no longer answers, so it is killed at once instead of being
    asked to exit (which a hung process would never do).
    """
    global _client
    if only is not None and only is not _client:
        return
    client, _client = _client, None
    if client is not None:
        with contextlib.suppress(Exception):  # the worker may already be gone
            client.kill() if kill else client.stop()


def shutdown() -> None:
    """Stop the worker and delete the session's temp folder (unregister and exit)."""
    global _root
    drop_client()
    if _root is not None:
        shutil.rmtree(_root, ignore_errors=True)
        _root = None
