"""Render features, timed for real: the stylized preview and render-aware training's cost.

Builds the extension, installs it into a throw-away Blender user folder (like the tests),
loads the CC0 demo models with a camera and a sun, and measures with a real worker:

1. ``restyle.preview`` at 512 px against the plain 512 px render of the same view;
2. Stylize Scene runs with render-aware training on against the same runs on textures
   only (same steps, same crop size, fresh model cache for each, so both really train;
   alternated, ``--repeats`` - 1 of each, medians).

    .venv/bin/python bench/render.py [--steps 60] [--repeats 3] [--engine CYCLES]
                                     [--style NAME] [--preview-only]

Prints a table; every ratio is against a reference measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "demo" / "assets"
STYLE = ROOT / "core" / "data" / "styles" / "starry_night.jpg"
MODULE = "bl_ext.user_default.restyle"


def install_extension(tmp: Path):
    """Import bpy with a temp user folder, build the zip from the tree, install, enable."""
    os.environ["BLENDER_USER_RESOURCES"] = str(tmp / "user")
    os.environ["RESTYLE_CACHE"] = str(tmp / "cache")
    import bpy

    tool = (Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli"
            / "blender_ext.py")
    subprocess.run([sys.executable, str(tool), "build", "--source-dir", str(ROOT),
                    "--output-dir", str(tmp)], check=True, capture_output=True)
    (zip_path,) = tmp.glob("*.zip")
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default",
                                             enable_on_install=True)
    prefs = bpy.context.preferences.addons[MODULE].preferences
    prefs.worker_python = str(ROOT / ".venv" / "bin" / "python")
    prefs.device = "cpu"
    return bpy, sys.modules[MODULE].addon


def demo_scene(bpy) -> None:
    """Crate, barrel and rock side by side, a camera looking at them, a sun, a sky."""
    bpy.ops.wm.read_homefile(use_empty=True)
    for i, (folder, name) in enumerate((("crate", "crate.obj"), ("barrel", "barrel.obj"),
                                        ("rock1", "rock1.obj"))):
        before = set(bpy.data.objects)
        bpy.ops.wm.obj_import(filepath=str(ASSETS / folder / name))
        for obj in set(bpy.data.objects) - before:
            obj.location.x += (i - 1) * 90.0
    scene = bpy.context.scene
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    cam.location, cam.rotation_euler = (0.0, -330.0, 170.0), (1.15, 0.0, 0.0)
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sun.data.energy, sun.rotation_euler = 4.0, (0.6, 0.2, 0.0)
    for obj in (cam, sun):
        scene.collection.objects.link(obj)
    scene.camera = cam
    scene.render.resolution_x, scene.render.resolution_y = 1280, 720


def use_style_images(bpy, steps: int) -> None:
    """Custom style image (so the run trains), fixed steps and 128 px crops."""
    settings = bpy.context.scene.restyle
    settings.style_source = "IMAGES"
    settings.style_images.clear()
    settings.style_images.add().image = bpy.data.images.load(str(STYLE), check_existing=True)
    settings.steps_override = steps
    settings.effort = "QUICK"
    settings.max_size = 512


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_preview(bpy, addon, repeats: int, engine: str) -> list[tuple[str, float, str]]:
    """Median times: plain render, and the whole preview (render + worker + image)."""
    scene = bpy.context.scene
    scene.restyle_render.engine = engine
    views = addon.render.views
    with tempfile.TemporaryDirectory() as out:
        def plain():
            views.render_views(scene, [views.camera_view(scene)], Path(out), 512, engine,
                               scene.restyle_render.samples)

        def preview():
            assert bpy.ops.restyle.preview(size=512) == {"FINISHED"}

        preview()  # warm: worker start-up and model load are not the preview's cost
        render_s = statistics.median(timed(plain) for _ in range(repeats))
        preview_s = statistics.median(timed(preview) for _ in range(repeats))
    size = tuple(bpy.data.images["Restyle Preview"].size)
    return [(f"plain render 512 px ({engine})", render_s, "1.00"),
            (f"restyle.preview 512 px {size[0]}x{size[1]}", preview_s,
             f"{preview_s / render_s:.2f}")]


def bench_training(bpy, addon, steps: int, repeats: int, tmp: Path) -> list[tuple]:
    """Stylize Scene with and without render-aware training, alternating, medians.

    Each run gets a fresh model cache and worker (so it really trains); the clock covers
    the run's start (texture export, and the renders when on) and the whole job.
    """
    runner = addon.runner
    starts: dict[bool, list[float]] = {False: [], True: []}
    totals: dict[bool, list[float]] = {False: [], True: []}
    renders = {}
    for rep in range(repeats):
        for aware in (False, True):
            os.environ["RESTYLE_CACHE"] = str(tmp / f"cache_{aware}_{rep}")
            addon.session.shutdown()  # a new worker picks up the fresh cache folder
            addon.session.get_client(addon.preferences.get_prefs(bpy.context)).wait_ready()
            bpy.context.scene.restyle_render.render_aware = aware
            begin = time.perf_counter()
            run = runner.start_run(bpy.context, list(bpy.context.scene.objects), "bench")
            starts[aware].append(time.perf_counter() - begin)
            assert runner.run_to_end(run) == runner.DONE, bpy.context.scene.restyle.last_report
            totals[aware].append(time.perf_counter() - begin)
            renders[aware] = len(run.body["content"]) - len(run.body["images"])
    base_start, base_total = (statistics.median(starts[False]), statistics.median(totals[False]))
    rows = []
    for aware in (False, True):
        start, total = statistics.median(starts[aware]), statistics.median(totals[aware])
        what = f"{renders[aware]} renders" if aware else "textures only"
        rows.append((f"run start (export, renders), {what}", start, f"{start / base_start:.2f}"))
        rows.append((f"stylize_scene {steps} steps, {what}", total, f"{total / base_total:.2f}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engine", default="CYCLES", choices=("CYCLES", "WORKBENCH"))
    parser.add_argument("--style", default="", help="preview with this shipped style")
    parser.add_argument("--preview-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="restyle-bench-render-") as tmp_name:
        tmp = Path(tmp_name)
        bpy, addon = install_extension(tmp)
        demo_scene(bpy)
        if args.style:  # preview with a shipped style
            bpy.context.scene.restyle.style_source = "SHIPPED"
            bpy.context.scene.restyle.shipped_style = args.style
        else:  # train a model on the style painting first
            use_style_images(bpy, args.steps)
            prep = addon.runner.start_run(bpy.context, list(bpy.context.scene.objects), "model")
            assert addon.runner.run_to_end(prep) == addon.runner.DONE
        rows = bench_preview(bpy, addon, args.repeats, args.engine)
        if not args.preview_only:
            use_style_images(bpy, args.steps)
            rows += bench_training(bpy, addon, args.steps, max(1, args.repeats - 1), tmp)
        addon.session.shutdown()
    print(f"\n{'what':<48} {'seconds':>9} {'ratio':>7}")
    for label, seconds, ratio in rows:
        print(f"{label:<48} {seconds:>9.2f} {ratio:>7}")
    print("ratios: preview vs plain render; render-aware run vs textures-only run")


if __name__ == "__main__":
    main()
