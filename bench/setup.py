"""An artist's first run, timed: from the extension zip to the first stylized textures.

Builds the zip, then in a fresh Blender process with an empty user folder (no Worker
Python, no RESTYLE_PYTHON): installs the zip, runs Set Up Local Worker (a real venv, pip
from the registry this machine reaches: its pip cache makes downloads fast here), then
Stylize Scene on the CC0 demo models with default settings, and measures the worker
environment on disk (the goal for the CPU build is under 2 GB).

    .venv/bin/python bench/setup.py [--max-size N]    (default: the add-on's default size)

Prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "setup" / "setup_driver.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-size", type=int, help="max texture size (default: add-on's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="restyle-bench-setup-") as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, str(ROOT / "scripts" / "build_repo.py"), "--out",
                        str(work / "repo")], check=True, capture_output=True)
        (zip_path,) = (work / "repo").glob("*.zip")
        env = {k: v for k, v in os.environ.items() if k != "RESTYLE_PYTHON"}
        env.update(BLENDER_USER_RESOURCES=str(work / "user"), RESTYLE_CACHE=str(work / "cache"))
        out = work / "result.json"
        extra = ["--max-size", str(args.max_size)] if args.max_size else ["--defaults"]
        subprocess.run([sys.executable, str(DRIVER), "full", str(zip_path), str(out), *extra],
                       check=True, env=env)
        seen = json.loads(out.read_text())
    setup, run = seen["setup"], seen.get("stylize", {})
    rows = [
        ("install the zip (package_install_files)", f"{seen['installed_s']:.1f} s"),
        ("Set Up Local Worker (venv, pip, health check)", f"{setup['seconds']:.1f} s"),
        ("first Stylize Scene (worker start + stylize)", f"{run.get('seconds', 0):.1f} s"),
        ("zip to first stylized texture", f"{seen.get('zip_to_stylized_s', 0):.1f} s"),
        ("worker environment on disk", f"{seen.get('env_bytes', 0) / 2**30:.2f} GB"),
        ("status line", seen["after"]["status"] or setup["error"]),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'what'.ljust(width)}  value")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    return 0 if setup["result"] == ["FINISHED"] else 1


if __name__ == "__main__":
    sys.exit(main())
