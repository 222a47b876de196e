"""The script a fresh Blender process runs for ``python -m core batch`` (one or more scenes).

Never imported by the add-on or by ``core``: ``core.batch`` hands this file to a new
Blender process (``python batch_script.py -- ARGS.json`` with the bpy module, or
``blender -b --factory-startup --python batch_script.py -- ARGS.json``). It lives in
``addon/`` because it is Blender-side code; being run as a file, it cannot use relative
imports and reaches the add-on through the installed extension's package instead.

It installs the extension zip into this process's (temporary) user folder, then per
scene: opens the .blend (the input is only read), saves it as the output .blend, runs
``restyle.stylize_scene`` with the given model folder and ``restyle.export_vr``, saves
again, and writes every scene's outcome and phase timings to the result JSON.
Mode ``gather`` instead exports every scene's colour textures (for training).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

STARTED = time.time()
import bpy  # noqa: E402  (timed: importing bpy is the Blender start)

ADDON_MODULE = "bl_ext.user_default.restyle"
#: The batch's look settings -> ``scene.restyle`` property names.
LOOK_PROPERTIES = {"strength": "strength", "preserve_color": "keep_colors",
                   "max_size": "max_size", "seamless": "seamless"}


class BatchError(Exception):
    """A scene (or the set-up) the user must fix: reported as its message, no traceback."""


def addon(name: str):
    """A module of the installed add-on (``addon.<name>``)."""
    return importlib.import_module(f"{ADDON_MODULE}.addon.{name}")


def protocol():
    """The installed extension's ``core/protocol.py``: a scene's outcome is a job state."""
    return importlib.import_module(f"{ADDON_MODULE}.core.protocol")


def install(args: dict) -> None:
    """Install and enable the extension zip, and point it at the worker Python and device."""
    result = bpy.ops.extensions.package_install_files(
        filepath=args["zip"], repo="user_default", enable_on_install=True)
    if result != {"FINISHED"} or ADDON_MODULE not in bpy.context.preferences.addons:
        raise BatchError(f"Could not install the Restyle extension from {args['zip']}")
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.worker_python = args["worker_python"]
    prefs.device = args["device"]
    bpy.context.preferences.filepaths.save_version = 0  # no .blend1 backups in the output


def used_images() -> list:
    """Image datablocks that an Image Texture node of any material or node group shows."""
    shading = addon("shading")
    images = {node.image for node in shading.tree_image_nodes(shading.file_trees())}
    return sorted(images, key=lambda img: img.name)


def external_files(blend: Path) -> list[str]:
    """The files the scene reads besides the .blend; an error naming any that are missing."""
    files, missing = [], []
    for image in used_images():
        if image.source not in {"FILE", "SEQUENCE", "TILED"} or image.packed_file is not None:
            continue
        path = Path(bpy.path.abspath(image.filepath, library=image.library))
        if path.is_file():
            files.append(str(path.resolve()))
        else:
            missing.append(f"texture '{image.name}' points at {path}, which does not exist")
    for library in bpy.data.libraries:
        path = Path(bpy.path.abspath(library.filepath))
        (files if path.is_file() else missing).append(
            str(path.resolve()) if path.is_file() else f"linked library {path} does not exist")
    if missing:
        raise BatchError(f"{blend}: " + "; ".join(missing) + ". Fix the paths (File > External "
                         "Data > Find Missing Files) or pack the files, then run again")
    return sorted(set(files))


def open_scene(blend: Path) -> None:
    try:
        bpy.ops.wm.open_mainfile(filepath=str(blend), load_ui=False)
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown error"
        raise BatchError(f"{blend} is not a readable .blend file ({reason}); re-save it from "
                         "Blender or remove it from the batch") from None


def run_operator(label: str, op, **kwargs) -> None:
    """Call an operator; its ERROR reports (raised by bpy.ops) become one clear message."""
    try:
        result = op(**kwargs)
    except RuntimeError as exc:  # bpy.ops raises the operator's ERROR report as one
        raise BatchError(f"{label} failed: {str(exc).strip()}") from None
    if result != {"FINISHED"}:
        report = bpy.context.scene.restyle.last_report.splitlines()
        raise BatchError(f"{label} failed: {report[0] if report else result}")


def restyle_scene(spec: dict, args: dict, kill: bool) -> dict:
    """One scene: open, save as the output, stylize, export, save; returns its outcome."""
    timings: dict[str, float] = {}
    mark = time.monotonic()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        timings[name] = round(now - mark, 3)
        mark = now

    blend = Path(spec["blend"])
    open_scene(blend)
    inputs = external_files(blend)
    out_blend = Path(spec["blend_out"])
    out_blend.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(out_blend), relative_remap=True)
    phase("open")

    if kill:  # the test hook: a real, unannounced death of this Blender process
        os.kill(os.getpid(), signal.SIGKILL)
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.output_dir = spec["textures_dir"]
    addon("session").get_client(prefs).wait_ready(timeout=300)  # the run reuses this worker
    phase("worker_start")

    settings = bpy.context.scene.restyle
    settings.model_path = args["model_dir"]
    for key, value in args["look"].items():  # only the ones given; the rest keep the scene's
        setattr(settings, LOOK_PROPERTIES[key], value)
    run_operator("Stylize Scene", bpy.ops.restyle.stylize_scene)
    report = settings.last_report
    settings.model_path = ""  # the node's model copy is temporary; the report names it
    phase("stylize")

    export = bpy.context.scene.restyle_export
    for key, value in args["export"].items():
        setattr(export, key, value)
    run_operator("Export for VR", bpy.ops.restyle.export_vr, filepath=spec["export"])
    summary = json.loads(export.last_summary)
    phase("export")
    bpy.ops.wm.save_mainfile()
    phase("save")
    return {"scene": str(blend), "state": protocol().DONE, "blend": str(out_blend),
            "output": summary["file"], "report": summary["report_file"],
            "stylize_report": report, "inputs": inputs, "timings": timings}


def gather_scene(spec: dict, args: dict, index: int) -> dict:
    """Export one scene's colour textures into the gather folder (training content)."""
    blend = Path(spec["blend"])
    open_scene(blend)
    materials = addon("shading").node_materials(bpy.context.scene.objects)
    uses = addon("discovery").discover(materials).textures
    folder = Path(args["gather_dir"]) / f"{index:03d}"
    skipped: dict[str, str] = {}
    max_size = args["look"].get("max_size") or bpy.context.scene.restyle.max_size
    exported = addon("job_inputs").export_textures(uses, folder, max_size, skipped)
    return {"scene": str(blend), "state": protocol().DONE,
            "textures": [str(t.path) for t in exported], "skipped": skipped}


def main(argv: list[str]) -> int:
    args = json.loads(Path(argv[argv.index("--") + 1]).read_text(encoding="utf-8"))
    result: dict = {"timings": {"blender_start": round(time.time() - args["launched"], 3)},
                    "scenes": []}
    result_path = Path(args["result"])

    def write() -> None:
        tmp = result_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2), encoding="utf-8")
        tmp.replace(result_path)

    mark = time.monotonic()
    install(args)
    result["timings"]["addon_install"] = round(time.monotonic() - mark, 3)
    for index, spec in enumerate(args["scenes"]):
        started = time.monotonic()
        try:
            if args["mode"] == "gather":
                outcome = gather_scene(spec, args, index)
            else:
                outcome = restyle_scene(spec, args, kill=args.get("kill") == spec["blend"])
        except Exception as exc:  # one scene's failure is reported, the next one still runs
            reported = (BatchError, addon("errors").AddonError, RuntimeError)  # bpy's own too
            message = str(exc) if isinstance(exc, reported) else (
                f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            outcome = {"scene": spec["blend"], "state": protocol().FAILED, "error": message}
        outcome["seconds"] = round(time.monotonic() - started, 3)
        result["scenes"].append(outcome)
        write()
    addon("session").shutdown()
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
