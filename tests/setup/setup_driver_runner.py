"""Start ``setup_driver.py`` in a fresh Blender process and read what it saw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DRIVER = Path(__file__).with_name("setup_driver.py")
TIMEOUT_S = 1800  # a real torch install; minutes on a busy 2-core machine


def run_driver(scenario: str, zip_path: Path, work: Path, *extra: str) -> dict:
    """Run one scenario with an empty Blender user folder and no RESTYLE_PYTHON."""
    env = {k: v for k, v in os.environ.items() if k != "RESTYLE_PYTHON"}
    env["BLENDER_USER_RESOURCES"] = str(work / "blender_user")
    env["RESTYLE_CACHE"] = str(work / "cache")
    out = work / "result.json"
    done = subprocess.run([sys.executable, str(DRIVER), scenario, str(zip_path), str(out),
                           *extra], env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    if done.returncode != 0 or not out.is_file():
        raise AssertionError(f"setup driver '{scenario}' failed ({done.returncode}):\n"
                             f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return json.loads(out.read_text(encoding="utf-8"))
