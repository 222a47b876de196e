"""One worker set-up scenario in a fresh Blender, as an artist or a studio script does it.

Runs in its own process (``bpy`` reads its user folder once, at import): the caller sets
``BLENDER_USER_RESOURCES`` to an empty folder and unsets ``RESTYLE_PYTHON``; this installs
the extension zip with ``package_install_files``, leaves Worker Python empty, and runs
``bpy.ops.restyle.setup_worker`` the way the scenario says. It writes what it saw to a
JSON file for the test (or bench) that started it::

    python setup_driver.py full|offline|bad_wheels|cancel ZIP OUT.json [--wheels DIR]
        [--max-size 64] [--defaults]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: blender_scene
from blender_scene import ADDON_MODULE, act_when, copy_assets, import_demo_models

SETUP_MODULE = ADDON_MODULE + ".addon.setup"


def install_extension(bpy, zip_path: Path) -> None:
    """Install and enable the zip exactly as Install from Disk does."""
    result = bpy.ops.extensions.package_install_files(
        filepath=str(zip_path), repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}, result


def setup_state(bpy) -> dict:
    """What the add-on now believes about the worker environment."""
    location = sys.modules[SETUP_MODULE + ".location"]
    env = sys.modules[SETUP_MODULE + ".env"]
    preferences = sys.modules[ADDON_MODULE + ".addon.preferences"]
    prefs = preferences.get_prefs()
    folder = location.worker_env_dir()
    stamp = env.read_stamp(folder)
    return {
        "env_dir": str(folder),
        "env_exists": folder.exists(),
        "stamp": stamp,
        "status": env.status_text(stamp) if stamp else "",
        "worker_python_pref": prefs.worker_python,
        "resolved_python": preferences.resolved_python(prefs),
        "log_path": str(location.setup_log_path()),
        "pyvenv_cfg": (folder / "pyvenv.cfg").read_text() if stamp else "",
    }


def run_setup(bpy, **kwargs) -> dict:
    """``bpy.ops.restyle.setup_worker(**kwargs)``: its result, or the error it raised."""
    operators = sys.modules[SETUP_MODULE + ".operators"]
    started = time.monotonic()
    try:
        result, error = sorted(bpy.ops.restyle.setup_worker(**kwargs)), ""
    except RuntimeError as exc:  # an ERROR report becomes an exception in scripts
        result, error = ["ERROR"], str(exc)
    job = operators.current_job()
    return {"result": result, "error": error, "seconds": time.monotonic() - started,
            "job_state": job.state if job else None, "job_message": job.message if job else ""}


def cancel_when_installing() -> threading.Thread:
    """Press Cancel (from another thread, as the UI would) once pip is installing."""
    operators = sys.modules[SETUP_MODULE + ".operators"]

    def installing():
        job = operators.current_job()
        return job if job and job.step == "Installing packages" and job.message else None

    return act_when(installing, lambda job: job.cancel(), timeout=600)


def node_images(bpy) -> dict:
    """Every image node of every material -> the image it shows."""
    return {f"{m.name}:{n.name}": n.image.name for m in bpy.data.materials if m.node_tree
            for n in m.node_tree.nodes if n.type == "TEX_IMAGE" and n.image}


def stylize_and_revert(bpy, work: Path, max_size: int, defaults: bool) -> dict:
    """Restyle the demo models with a shipped style, then Revert All."""
    bpy.ops.wm.read_homefile(use_empty=True)
    import_demo_models(bpy, copy_assets(work / "assets"))
    settings = bpy.context.scene.restyle
    if not defaults:
        settings.max_size = max_size
        bpy.context.scene.restyle_render.consistent_scale = False
    before = node_images(bpy)
    started = time.monotonic()
    result = sorted(bpy.ops.restyle.stylize_scene())
    seconds = time.monotonic() - started
    stylized = node_images(bpy)
    bpy.ops.restyle.revert(scope="ALL")
    return {"result": result, "seconds": seconds, "report": settings.last_report,
            "before": before, "stylized": stylized, "reverted": node_images(bpy)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["full", "offline", "bad_wheels", "cancel"])
    parser.add_argument("zip", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--wheels", type=Path)
    parser.add_argument("--max-size", type=int, default=64)
    parser.add_argument("--defaults", action="store_true", help="stylize with default settings")
    args = parser.parse_args()
    import bpy

    started = time.monotonic()  # the artist's Blender is already running: time from the zip
    install_extension(bpy, args.zip)
    out: dict = {"installed_s": time.monotonic() - started, "before": setup_state(bpy)}
    if args.scenario == "offline":  # headless, only an explicit request makes it offline
        bpy.context.preferences.system.use_online_access = False
        os.environ["RESTYLE_OFFLINE"] = "1"
    if args.scenario == "cancel":
        watcher = cancel_when_installing()
        out["setup"] = run_setup(bpy)
        watcher.join(5)
    elif args.scenario == "bad_wheels":
        out["setup"] = run_setup(bpy, directory=str(args.wheels))
    else:
        out["setup"] = run_setup(bpy)
    out["after"] = setup_state(bpy)
    log = Path(out["after"]["log_path"])
    out["log"] = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    if args.scenario == "full" and out["after"]["stamp"]:
        work = args.out.parent / "work"
        out["stylize"] = stylize_and_revert(bpy, work, args.max_size, args.defaults)
        out["zip_to_stylized_s"] = time.monotonic() - started
        out["env_bytes"] = sum(p.stat().st_size for p in Path(out["after"]["env_dir"]).rglob("*")
                               if p.is_file() and not p.is_symlink())
        shutil.rmtree(work, ignore_errors=True)
        out["repair"] = run_setup(bpy, mode="REPAIR")
        out["after_repair"] = setup_state(bpy)
        out["remove"] = run_setup(bpy, mode="REMOVE")
        out["after_remove"] = setup_state(bpy)
    args.out.write_text(json.dumps(out, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
