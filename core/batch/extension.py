"""Build the Restyle extension zip with Blender's own extension tool (no bpy import).

The one place the zip is built: the batch builds it once and ships the bytes to every
node, and the tests' ``extension_zip`` fixture builds it the same way. With the bpy
module installed, its bundled ``blender_ext.py`` runs under this Python; with only a
Blender binary, ``blender --command extension build`` does the same.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from ..errors import BadInput

#: The extension's source tree: the folder holding blender_manifest.toml, core/ and addon/.
ROOT = Path(__file__).resolve().parents[2]
TOOL_IN_SCRIPTS = Path("addons_core") / "bl_pkg" / "cli" / "blender_ext.py"


def blender_ext_tool() -> Path | None:
    """``blender_ext.py`` inside the installed bpy module, found without importing bpy."""
    spec = importlib.util.find_spec("bpy")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for tool in sorted(Path(folder).glob(f"*/scripts/{TOOL_IN_SCRIPTS.as_posix()}")):
            return tool
    return None


def _tool_command(blender: str | None) -> list[str]:
    tool = blender_ext_tool()
    if tool is not None:
        return [sys.executable, str(tool)]
    if blender:
        return [blender, "--factory-startup", "--command", "extension"]
    raise BadInput("Neither the bpy module nor a Blender binary was found to build the "
                   "extension zip: install the pinned requirements (bpy) or pass --blender.")


def build_extension(out_dir: Path, *, validate: bool = False, blender: str | None = None,
                    source: Path = ROOT) -> Path:
    """Build ``restyle-<version>.zip`` from ``source`` into ``out_dir``; returns its path."""
    command = _tool_command(blender)
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = [["validate", str(source)]] if validate else []
    steps.append(["build", "--source-dir", str(source), "--output-dir", str(out_dir)])
    for step in steps:
        done = subprocess.run([*command, *step], capture_output=True, text=True)
        if done.returncode != 0:
            raise BadInput(f"Building the extension with {' '.join(command)} {step[0]} failed "
                           f"(exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    zips = sorted(out_dir.glob("*.zip"))
    if len(zips) != 1:
        raise BadInput(f"Expected one extension zip in {out_dir}, found {len(zips)}; empty it.")
    return zips[0]
