"""Export time and file size of the stylized demo scene at VR texture budgets.

    .venv/bin/python bench/export.py [--stylizer addon|files] [--steps N] [--runs N]

Builds the demo scene from demo/assets, stylizes it (the add-on's own stylizer with the
bundled style painting, or with ``--stylizer files`` a fixed colour transform written as
``<name>.restyle`` files), then exports GLB through ``export_vr`` at budgets 2048 and
1024 (and 512). The demo textures are 256-512 px, so a second variant upscales the
stylized textures to 4096 px to show what the budget does to a high-resolution scene.
Reference: Blender's plain glTF exporter on the same scene in the same run (ratio).
Every file is checked with the Khronos validator.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "demo" / "assets"
STYLE = ROOT / "core" / "data" / "styles" / "starry_night.jpg"
MODELS = (("crate", "crate.obj"), ("barrel", "barrel.obj"), ("rock1", "rock1.obj"))


def build_demo(bpy, assets: Path) -> None:
    """The three CC0 models side by side in an empty scene."""
    bpy.ops.wm.read_homefile(use_empty=True)
    for i, (folder, name) in enumerate(MODELS):
        before = set(bpy.data.objects)
        bpy.ops.wm.obj_import(filepath=str(assets / folder / name))
        for obj in set(bpy.data.objects) - before:
            obj.location.x += (i - 1) * 3.0


def install_extension(bpy) -> None:
    """Build the extension zip with Blender's tool and install it, as a user would."""
    tool = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core/bl_pkg/cli/blender_ext.py"
    out = Path(tempfile.mkdtemp(prefix="restyle-bench-build-"))
    subprocess.run([sys.executable, str(tool), "build", "--source-dir", str(ROOT),
                    "--output-dir", str(out)], check=True, capture_output=True)
    zip_path = next(out.glob("*.zip"))
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default",
                                             enable_on_install=True)
    prefs = bpy.context.preferences.addons["bl_ext.user_default.restyle"].preferences
    if hasattr(prefs, "worker_python"):
        prefs.worker_python = sys.executable


def stylize_with_addon(bpy, steps: int) -> str:
    """The add-on's stylizer: train on the bundled painting for ``steps`` and apply."""
    install_extension(bpy)
    settings = bpy.context.scene.restyle
    settings.style_source = "IMAGES"
    settings.style_images.add().image = bpy.data.images.load(str(STYLE))
    settings.steps_override = steps
    settings.max_size = 512
    bpy.ops.restyle.stylize_scene()
    return f"add-on stylizer ({steps} training steps on {STYLE.name})"


def stylize_with_files(bpy, folder: Path) -> str:
    """Stand-in stylized files: inverted, channel-rolled copies as ``<name>.restyle``."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    for original in [i for i in bpy.data.images if i.source == "FILE"]:
        width, height = original.size
        pixels = np.empty(width * height * 4, np.float32)
        original.pixels.foreach_get(pixels)
        rgba = pixels.reshape(-1, 4)
        rgba[:, :3] = 1.0 - rgba[:, [1, 2, 0]]
        image = bpy.data.images.new(f"{original.name}.restyle", width, height)
        image.pixels.foreach_set(rgba.ravel())
        image.filepath_raw = str(folder / f"{original.name}.restyle.png")
        image.file_format = "PNG"
        image.save()
        image.reload()
        _repoint(bpy, original, image)
    return "stand-in stylized files (colour transform)"


def _repoint(bpy, old, new) -> None:
    for mat in bpy.data.materials:
        for node in (mat.node_tree.nodes if mat.node_tree else []):
            if node.type == "TEX_IMAGE" and node.image == old:
                node.image = new


def upscale_stylized(bpy, size: int, folder: Path) -> None:
    """Make the stylized textures ``size`` px (a high-resolution scene for the budget)."""
    folder.mkdir(parents=True, exist_ok=True)
    for image in [i for i in bpy.data.images if i.name.endswith(".restyle")]:
        work = image.copy()
        work.scale(size, size)
        work.filepath_raw = str(folder / f"{image.name}.{size}.png")
        work.file_format = "PNG"
        work.save()
        big = bpy.data.images.load(work.filepath_raw)  # a clean file image, as after saving
        bpy.data.images.remove(work)
        _repoint(bpy, image, big)


def validator_errors(path: Path) -> str:
    script = ROOT / "scripts" / "validate_gltf.mjs"
    if shutil.which("node") is None:
        return "n/a"
    done = subprocess.run(["node", str(script), str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        return "failed"
    issues = json.loads(done.stdout)["issues"]
    return f"{issues['numErrors']} err / {issues['numWarnings']} warn"


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(bpy, label: str, out: Path, runs: int, budgets: list[int]) -> list[list[str]]:
    """Rows for one scene variant: the plain exporter, then export_vr at each budget."""
    from restyle.addon.export.budget import Budget
    from restyle.addon.export.vr_export import ExportOptions, export_vr

    rows = []
    plain = out / f"{label}-plain.glb"
    reference = timed(lambda: bpy.ops.export_scene.gltf(
        filepath=str(plain), export_format="GLB", check_existing=False), runs)
    rows.append([label, "none (plain exporter)", f"{reference:.2f}", "1.00",
                 f"{plain.stat().st_size / 1e6:.2f}", "", "", validator_errors(plain)])
    for budget in budgets:
        path = out / f"{label}-{budget}.glb"
        options = ExportOptions(str(path), "GLB", budget=Budget(max_size=budget))
        reports = []
        seconds = timed(lambda: reports.append(export_vr(bpy.context, options)), runs)  # noqa: B023
        report = reports[-1]
        biggest = max(max(t["width"], t["height"]) for t in report["textures"])
        rows.append([label, f"{budget} (largest {biggest})", f"{seconds:.2f}",
                     f"{seconds / reference:.2f}", f"{report['file_bytes'] / 1e6:.2f}",
                     f"{report['texture_bytes'] / 1e6:.2f}",
                     f"{report['gpu_texture_bytes'] / 1e6:.1f}", validator_errors(path)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stylizer", choices=("addon", "files"), default="addon")
    parser.add_argument("--steps", type=int, default=40, help="training steps (add-on)")
    parser.add_argument("--runs", type=int, default=3, help="runs per export (median)")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench_export")
    args = parser.parse_args()
    os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="restyle-bench-user-")
    sys.path.insert(0, str(ROOT / "tests"))
    import bpy
    import extension_package  # noqa: F401  (the checkout as package ``restyle``)

    work = Path(tempfile.mkdtemp(prefix="restyle-bench-"))
    shutil.copytree(ASSETS, work / "assets")
    args.out.mkdir(parents=True, exist_ok=True)
    build_demo(bpy, work / "assets")
    how = None
    if args.stylizer == "addon":
        try:
            how = stylize_with_addon(bpy, args.steps)
        except Exception as exc:  # the bench still measures export with stand-in files
            print(f"add-on stylizer unavailable ({exc}); using stand-in stylized files")
    if how is None or not any(i.name.endswith(".restyle") for i in bpy.data.images):
        how = stylize_with_files(bpy, work / "stylized")
    rows = measure(bpy, "demo", args.out, args.runs, [2048, 1024, 512])
    upscale_stylized(bpy, 4096, work / "stylized_4k")
    rows += measure(bpy, "demo-4k", args.out, args.runs, [2048, 1024])
    header = ["scene", "budget px", "export s", "ratio", "file MB", "textures MB", "GPU MB",
              "validator"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\nStylized with: {how}; median of {args.runs} runs; "
          f"Blender {bpy.app.version_string}; output in {args.out}")
    for row in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
