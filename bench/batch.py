"""Batch throughput on Ray: scenes per minute with 1 and 2 workers, and where the time goes.

    .venv/bin/python bench/batch.py [--scenes N] [--max-size PX]

Builds N scenes from the demo's CC0 models (crate, barrel, rock: four colour textures of
256-512 px each), starts one local Ray instance (loopback, all cores) and runs
``python -m core batch`` on them with ``--workers 1`` and ``--workers 2`` (fresh output
folders, so nothing is skipped), with the shipped style starry_night. Reference: the
same scenes through the add-on directly in one Blender process (one Blender start, one
add-on install, one worker for all scenes), which is what a hand-written ``blender -b``
loop costs. Per-scene phases come from each scene's ``timings`` in batch.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

PHASES = ("blender_start", "addon_install", "worker_start", "open", "stylize", "export", "save")


def build_scenes(folder: Path, count: int) -> list[Path]:
    """``count`` .blend files holding the three demo models (textures read in place)."""
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="bench-user-"))
    import bpy
    from demo_scene import ASSETS, import_demo_models

    folder.mkdir(parents=True, exist_ok=True)
    scenes = []
    for index in range(count):
        bpy.ops.wm.read_homefile(use_empty=True)
        import_demo_models(bpy, ASSETS, size=2.0, spacing=2.8)
        blend = folder / f"scene_{index:02d}.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(blend), relative_remap=True)
        scenes.append(blend)
    return scenes


def settings_for(scenes: list[Path], out: Path, workers: int | None, max_size: int):
    from core.batch.settings import BatchSettings
    from core.cli import build_parser

    argv = ["batch", *map(str, scenes), "--style", "starry_night", "--out", str(out),
            "--max-size", str(max_size)]
    argv += ["--workers", str(workers)] if workers else []
    return BatchSettings.from_args(build_parser().parse_args(argv))


def phase_means(entries: list[dict], top: dict | None = None) -> dict[str, float]:
    """Mean seconds per scene of each phase (``top``: once-per-process phases)."""
    means = {}
    for name in PHASES:
        values = [e.get("timings", {}).get(name, 0.0) for e in entries]
        if top and name in top:
            values = [top[name] / len(entries)] * len(entries)
        means[name] = statistics.fmean(values) if values else 0.0
    return means


def run_ray(scenes: list[Path], work: Path, workers: int, max_size: int) -> dict:
    from core.batch.driver import run_batch

    out = work / f"ray_{workers}"
    started = time.monotonic()
    run_batch(settings_for(scenes, out, workers, max_size))
    wall = time.monotonic() - started
    entries = json.loads((out / "batch.json").read_text())["scenes"]
    return {"mode": "ray batch", "workers": workers, "wall": wall,
            "done": sum(e["state"] == "done" for e in entries), "phases": phase_means(entries)}


def run_direct(scenes: list[Path], work: Path, max_size: int) -> dict:
    """All scenes in one Blender process: the add-on called directly, no Ray, no retries."""
    from core.batch import task
    from core.batch.driver import Batch

    out = work / "direct"
    settings = settings_for(scenes, out, None, max_size)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as build:
        batch = Batch(settings, Path(build))
    specs = [{"blend": str(s), **{k: str(v) for k, v in settings.outputs(s.stem).items()}}
             for s in scenes]
    payload = batch.payload({"mode": "scene", "scenes": specs,
                             "export": settings.export_properties()})
    result = task.run_blender(payload, batch.zip_bytes, batch.model.payload())["result"]
    wall = time.monotonic() - started
    entries = result["scenes"]
    return {"mode": "one Blender, direct", "workers": 1, "wall": wall,
            "done": sum(e["state"] == "done" for e in entries),
            "phases": phase_means(entries, result["timings"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--max-size", type=int, default=256, help="stylize size cap (px)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="restyle-bench-batch-"))
    os.environ.setdefault("RESTYLE_CACHE", str(work / "cache"))
    scenes = build_scenes(work / "scenes", args.scenes)

    from core.batch.driver import local_ray_options

    options = local_ray_options()
    import ray

    started = time.monotonic()
    ray.init(**options)
    ray_start = time.monotonic() - started
    cpus = int(ray.cluster_resources().get("CPU", 0))
    rows = [run_direct(scenes, work, args.max_size)]
    rows += [run_ray(scenes, work, workers, args.max_size) for workers in (1, 2)]
    ray.shutdown()

    print(f"\n{args.scenes} scenes (3 CC0 models, 4 textures each), style starry_night, "
          f"--max-size {args.max_size}, {os.cpu_count()} cores, Ray {ray.__version__} "
          f"local start {ray_start:.1f} s ({cpus} CPUs)")
    head = ["mode", "workers", "done", "wall s", "scenes/min", *PHASES]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        cells = [row["mode"], str(row["workers"]), f"{row['done']}/{args.scenes}",
                 f"{row['wall']:.1f}", f"{60 * args.scenes / row['wall']:.2f}",
                 *(f"{row['phases'][name]:.2f}" for name in PHASES)]
        print("| " + " | ".join(cells) + " |")
    print("(phases: mean seconds per scene; in the direct row, Blender start, add-on "
          "install and worker start are paid once and spread over the scenes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
