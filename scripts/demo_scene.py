"""The Blender part of the main job: restyle the bundled demo scene through the add-on.

Builds a scene from the CC0 models in demo/assets, installs the extension zip (built
by Blender's own tool) into a throw-away Blender user folder, runs
``bpy.ops.restyle.stylize_scene()`` with the default shipped style exactly as an
artist or a pipeline would, and writes a before/after Cycles render sheet plus the
time each phase took to ``out/``. Run it with ``.venv/bin/python scripts/demo_scene.py``.

The scene-building functions take ``bpy`` as an argument so tests can reuse them
without this module importing Blender.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "demo" / "assets"
MODELS = (("crate", "crate.obj"), ("barrel", "barrel.obj"), ("rock1", "rock1.obj"))
ADDON_MODULE = "bl_ext.user_default.restyle"


# ------------------------------------------------------------------ scene (bpy passed in)

def import_demo_models(bpy, assets: Path = ASSETS, size: float | None = None,
                       spacing: float = 3.0) -> list:
    """Import the crate, barrel and rock side by side; returns the new objects.

    ``size``: scale each model so its largest side is this many metres and stand it on
    the ground (the OBJs are in centimetres); None keeps their own size.
    """
    placed = []
    for i, (folder, name) in enumerate(MODELS):
        before = set(bpy.data.objects)
        bpy.ops.wm.obj_import(filepath=str(assets / folder / name))
        for obj in set(bpy.data.objects) - before:
            if size is not None:
                from mathutils import Vector

                obj.scale *= size / max(obj.dimensions)
                bpy.context.view_layer.update()
                lowest = min((obj.matrix_world @ Vector(c)).z for c in obj.bound_box)
                obj.location.z -= lowest
            obj.location.x += (i - 1) * spacing
            placed.append(obj)
    return placed


def _look_at(obj, target) -> None:
    direction = target - obj.location
    obj.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()


def build_demo_scene(bpy, assets: Path = ASSETS):
    """The demo: three models on a plain floor, a sun, a sky colour and a framing camera."""
    from mathutils import Vector

    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    objects = import_demo_models(bpy, assets, size=2.0, spacing=2.8)

    floor_mesh = bpy.data.meshes.new("Floor")
    floor_mesh.from_pydata([(-8, -6, 0), (8, -6, 0), (8, 8, 0), (-8, 8, 0)], [], [(0, 1, 2, 3)])
    floor = bpy.data.objects.new("Floor", floor_mesh)
    scene.collection.objects.link(floor)
    floor_mat = bpy.data.materials.new("Floor")
    if bpy.app.version < (5, 0, 0):
        floor_mat.use_nodes = True
    floor_mat.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (
        0.35, 0.33, 0.3, 1.0)
    floor_mesh.materials.append(floor_mat)

    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sun.data.energy = 3.5
    sun.rotation_euler = (math.radians(50), 0.0, math.radians(35))
    scene.collection.objects.link(sun)
    world = bpy.data.worlds.new("Sky")
    world.color = (0.45, 0.55, 0.7)
    if bpy.app.version < (5, 0, 0):
        world.use_nodes = True
    background = world.node_tree.nodes.get("Background")
    if background is not None:
        background.inputs["Color"].default_value = (0.45, 0.55, 0.7, 1.0)
        background.inputs["Strength"].default_value = 0.8
    scene.world = world

    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(camera)
    camera.location = Vector((0.0, -10.0, 4.5))
    _look_at(camera, Vector((0.0, 0.0, 0.9)))
    camera.data.lens = 40
    scene.camera = camera
    return objects


def render_to(bpy, path: Path, samples: int, width: int, height: int) -> Path:
    """A small Cycles render of the scene camera to ``path`` (PNG)."""
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.cycles.device = "CPU"
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return path


# ------------------------------------------------------------------ extension

def install_extension(bpy, work: Path, worker_python: Path):
    """Build the zip with Blender's tool, install and enable it, point it at the worker."""
    tool = (Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli"
            / "blender_ext.py")
    subprocess.run([sys.executable, str(tool), "build", "--source-dir", str(ROOT),
                    "--output-dir", str(work)], check=True, capture_output=True)
    zip_path = next(work.glob("*.zip"))
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default",
                                             enable_on_install=True)
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.worker_python = str(worker_python)
    return zip_path


# ------------------------------------------------------------------ sheet

def render_sheet(before: Path, after: Path, title: str, lines: list[str], out: Path) -> Path:
    """Side-by-side before/after with a title and the phase timings underneath."""
    from PIL import Image, ImageDraw

    left, right = Image.open(before).convert("RGB"), Image.open(after).convert("RGB")
    pad, head, line_h = 8, 26, 16
    width = left.width + right.width + 3 * pad
    height = head + left.height + pad + line_h * len(lines) + pad
    sheet = Image.new("RGB", (width, height), (30, 30, 30))
    draw = ImageDraw.Draw(sheet)
    draw.text((pad, 7), title, fill=(240, 240, 240))
    sheet.paste(left, (pad, head))
    sheet.paste(right, (2 * pad + left.width, head))
    draw.text((pad + 4, head + 4), "before", fill=(255, 255, 255))
    draw.text((2 * pad + left.width + 4, head + 4), "after", fill=(255, 255, 255))
    for i, text in enumerate(lines):
        draw.text((pad, head + left.height + pad + i * line_h), text, fill=(200, 200, 200))
    sheet.save(out)
    return out


# ------------------------------------------------------------------ main

def run_demo(out_dir: Path, samples: int = 16, width: int = 480, height: int = 270,
             style: str | None = None) -> dict:
    """The whole Blender demo; returns the phase timings (seconds) and output paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="restyle-demo-"))
    os.environ["BLENDER_USER_RESOURCES"] = str(work / "blender_user")  # never ~/.config
    timings: dict[str, float] = {}

    def phase(name: str, start: float) -> None:
        timings[name] = round(time.monotonic() - start, 2)
        print(f"[demo_scene] {name}: {timings[name]:.1f} s", flush=True)

    start = time.monotonic()
    import bpy

    python = ROOT / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    install_extension(bpy, work, python)
    phase("build + install extension", start)

    start = time.monotonic()
    bpy.context.preferences.filepaths.save_version = 0  # no demo_scene.blend1 backups
    build_demo_scene(bpy)
    blend = out_dir / "demo_scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))  # stylized files go to out/restyle/
    phase("build scene", start)

    start = time.monotonic()
    before = render_to(bpy, out_dir / "demo_before.png", samples, width, height)
    phase("render before", start)

    start = time.monotonic()
    settings = bpy.context.scene.restyle
    if style:
        settings.shipped_style = style  # default: the first shipped style
    result = bpy.ops.restyle.stylize_scene()
    report = settings.last_report
    phase("stylize scene (worker start + stylize)", start)
    if result != {"FINISHED"}:
        raise SystemExit(f"demo_scene: stylize_scene failed: {report}")
    bpy.ops.wm.save_mainfile()

    start = time.monotonic()
    after = render_to(bpy, out_dir / "demo_after.png", samples, width, height)
    phase("render after", start)

    start = time.monotonic()
    glb = out_dir / "demo_scene.glb"
    if bpy.ops.restyle.export_vr(filepath=str(glb)) != {"FINISHED"}:
        raise SystemExit("demo_scene: export_vr failed; see the message above.")
    export = json.loads(bpy.context.scene.restyle_export.last_summary)
    phase("export GLB for VR", start)

    lines = [f"{name}: {secs:.1f} s" for name, secs in timings.items()]
    lines.append(report.splitlines()[0])
    lines.append(f"exported {glb.name}: {glb.stat().st_size / 1e6:.2f} MB, "
                 f"report {Path(export['report_file']).name}")
    title = (f"Restyle demo scene: shipped style '{settings.shipped_style}', "
             f"Cycles {samples} samples, {width}x{height}")
    sheet = render_sheet(before, after, title, lines, out_dir / "demo_scene_sheet.png")
    summary = {"timings_s": timings, "report": report, "sheet": str(sheet),
               "blend": str(blend), "style": settings.shipped_style, "glb": str(glb),
               "export_report": export["report_file"]}
    (out_dir / "demo_scene_timings.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=270)
    parser.add_argument("--style", default=None, help="shipped style (default: the first)")
    args = parser.parse_args(argv)
    summary = run_demo(args.out, args.samples, args.width, args.height, args.style)
    print(f"[demo_scene] sheet: {summary['sheet']}")
    print(f"[demo_scene] {summary['report'].splitlines()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
