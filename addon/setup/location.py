"""Where the worker environment and the set-up log live on this machine (needs ``bpy``).

The extension's own user folder survives updates of the extension. On Windows a short
folder is used instead: torch's deepest files exceed the 260-character path limit
below ``%APPDATA%\\Blender Foundation\\Blender\\<version>\\extensions\\.user\\...``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import bpy

#: The extension's package (``bl_ext.<repo>.restyle``), which owns the user folder.
EXTENSION_PACKAGE = __package__.rsplit(".", 2)[0]
LOG_NAME = "worker-setup.log"


def worker_env_dir() -> Path:
    """The folder of the worker's virtual environment (not created here)."""
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home())
        return base / "Restyle" / f"w{sys.version_info.major}{sys.version_info.minor}"
    return Path(bpy.utils.extension_path_user(EXTENSION_PACKAGE, path="worker", create=False))


def setup_log_path() -> Path:
    """The log of the last set-up (kept outside the environment, so a cancel keeps it)."""
    return Path(bpy.utils.extension_path_user(EXTENSION_PACKAGE, path="logs", create=False),
                LOG_NAME)  # the set-up creates the folder; drawing code only reads
