"""Build the extension zip and a static extension repository around it, with Blender's tool.

    .venv/bin/python scripts/build_repo.py [--out build/repo]

``--out`` then holds ``restyle-<version>.zip``, ``index.json`` (the listing Blender reads)
and ``index.html``. Put the folder on any web server; artists add
``https://<server>/<path>/index.json`` under *Preferences > Get Extensions > Repositories
> + > Add Remote Repository* and get Restyle and its updates from *Get Extensions*.
Blender's tool is ``blender_ext.py`` (found in the bpy module, or ``$BLENDER_EXT``); with a
Blender install, ``blender --command extension build`` / ``server-generate`` do the same.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def blender_ext_tool() -> Path:
    """``$BLENDER_EXT``, else ``blender_ext.py`` inside the installed bpy module."""
    if os.environ.get("BLENDER_EXT"):
        return Path(os.environ["BLENDER_EXT"])
    spec = importlib.util.find_spec("bpy")
    if spec is None or spec.origin is None:
        raise SystemExit("Blender's blender_ext.py not found: install the bpy module "
                         "(scripts/bootstrap.sh) or set BLENDER_EXT to its path.")
    found = sorted(Path(spec.origin).parent.glob("*/scripts/addons_core/bl_pkg/cli/"
                                                 "blender_ext.py"))
    if not found:
        raise SystemExit(f"No blender_ext.py under {Path(spec.origin).parent}; set BLENDER_EXT.")
    return found[-1]


def run_tool(tool: Path, *args: str) -> None:
    """One blender_ext.py command; its output is shown, a failure ends the script."""
    print("$ blender_ext.py", " ".join(args), flush=True)
    if subprocess.call([sys.executable, str(tool), *args]) != 0:
        raise SystemExit(f"blender_ext.py {args[0]} failed (see above).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "repo",
                        help="the repository folder to fill (default build/repo)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    tool = blender_ext_tool()
    run_tool(tool, "validate", str(ROOT))
    run_tool(tool, "build", "--source-dir", str(ROOT), "--output-dir", str(out))
    run_tool(tool, "server-generate", "--repo-dir", str(out), "--html")
    print(f"Repository in {out}: serve that folder and add <its URL>/index.json in Blender's "
          "Get Extensions > Repositories.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
