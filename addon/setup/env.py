"""The worker environment on disk: where its Python is, and whether it is ready.

A set-up writes ``ready.json`` only after the new environment imported torch and
started the worker once, so a cancelled, failed or half-deleted environment is never
taken for a working one. ``marker`` files let Remove delete only folders Restyle made.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

#: The worker's pinned requirements, shipped inside the extension.
REQUIREMENTS = Path(__file__).resolve().parents[2] / "core" / "requirements-worker.txt"
STAMP_NAME = "ready.json"
MARKER_NAME = "restyle-worker-env"
#: Remove renames the environment to ``<folder><TRASH_SUFFIX><pid>`` and then deletes it.
TRASH_SUFFIX = ".removing-"
#: What to do when no worker Python is found (shown by the panel, preferences and runs).
SET_UP_HINT = ("press Set Up Local Worker in Edit > Preferences > Add-ons > Restyle "
               "(or set Worker Python there)")


def venv_python(env_dir: str | os.PathLike) -> Path:
    """The interpreter inside a virtual environment folder (Windows or POSIX layout)."""
    if os.name == "nt":
        return Path(env_dir, "Scripts", "python.exe")
    return Path(env_dir, "bin", "python")


def requirements_digest(path: Path = REQUIREMENTS) -> str:
    """The shipped requirements' sha256: a stamp from other pins means 'press Repair'."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def torch_pin(path: Path = REQUIREMENTS) -> str | None:
    """The ``torch==X`` line of the requirements (the one home of the torch pin), if any."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.replace(" ", "").startswith("torch=="):
            return line.split(";")[0].strip()
    return None


def read_stamp(env_dir: str | os.PathLike) -> dict | None:
    """What the last successful set-up measured, or None when the folder is not ready."""
    try:
        stamp = json.loads(Path(env_dir, STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) and venv_python(env_dir).is_file() else None


def write_stamp(env_dir: str | os.PathLike, info: dict) -> None:
    """Mark the environment ready (atomically: a reader never sees half a stamp)."""
    path = Path(env_dir, STAMP_NAME)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(info, indent=1), encoding="utf-8")
    os.replace(partial, path)


def clear_stamp(env_dir: str | os.PathLike) -> None:
    """The environment is about to change: until re-checked it is not ready."""
    Path(env_dir, STAMP_NAME).unlink(missing_ok=True)


def ready_python(env_dir: str | os.PathLike | None) -> str | None:
    """The environment's Python if a set-up finished there, else None."""
    if env_dir is None or read_stamp(env_dir) is None:
        return None
    return str(venv_python(env_dir))  # not resolved: a venv's python is a symlink


def is_ours(env_dir: str | os.PathLike) -> bool:
    """True for a folder Restyle's set-up made (or an empty one): safe to delete."""
    folder = Path(env_dir)
    return not folder.exists() or (folder / MARKER_NAME).is_file() or not any(folder.iterdir())


def status_text(stamp: dict) -> str:
    """The status line of a ready environment, e.g. 'Worker ready: torch 2.13.0, cpu'."""
    torch = str(stamp.get("torch", "?")).split("+")[0]
    device = str(stamp.get("device", "cpu"))
    gpu = stamp.get("gpu")
    return f"Worker ready: torch {torch}, {device}" + (f": {gpu}" if gpu else "")
