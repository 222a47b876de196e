"""Training's cost as the inputs grow: the demo textures and a painting as given, against
the same upscaled to 4096 px textures and a 4000 px scan of the painting (not run in CI).

A step crops its own few pixels, so a step should cost the same whatever the images'
size; only loading them and holding them (float32 RGB) grows. Each case runs
``train_style`` in a process of its own (so its peak RSS is its own), with no time
budget and a fixed step count, and prints seconds per step, whole-run seconds and peak
RSS, with the large case's ratio to the small one.

    .venv/bin/python bench/training.py [--steps N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CONTENT = sorted((ROOT / "demo" / "assets").glob("*/*.jpg"))
PAINTING = ROOT / "core" / "data" / "styles" / "starry_night.jpg"
LARGE_TEXTURE, LARGE_PAINTING = 4096, 4000

CASE = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from core.training.trainer import TrainSettings, train_style
painting, contents, out, steps = sys.argv[2], sys.argv[3].split("|"), sys.argv[4], int(sys.argv[5])
start = time.perf_counter()
folder = train_style([painting], contents, Path(out),
                     TrainSettings(steps=steps, time_budget_s=None, device="cpu"))
total = time.perf_counter() - start
train = json.loads((folder / "model.json").read_text())["train_stats"]["seconds"]
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forked parent across exec.
peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")]
print(json.dumps({"total": total, "train": train, "peak_mb": int(peak[0]) / 1024}))
"""


def run_case(painting: Path, contents: list[Path], out: Path, steps: int) -> dict:
    """One training run in a fresh process: its seconds and peak RSS."""
    done = subprocess.run(
        [sys.executable, "-c", CASE, str(ROOT), str(painting), "|".join(map(str, contents)),
         str(out), str(steps)], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"training case failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def upscaled(path: Path, long_side: int, out: Path) -> Path:
    """``path`` resampled so its long side is ``long_side``, saved as a JPEG in ``out``."""
    image = Image.open(path).convert("RGB")
    factor = long_side / max(image.size)
    image = image.resize((round(image.width * factor), round(image.height * factor)),
                         Image.BICUBIC)
    target = out / f"{path.stem}_{long_side}.jpg"
    image.save(target, quality=92)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        large = [upscaled(p, LARGE_TEXTURE, folder) for p in CONTENT]
        small_run = run_case(PAINTING, CONTENT, folder / "small", args.steps)
        large_run = run_case(upscaled(PAINTING, LARGE_PAINTING, folder), large,
                             folder / "large", args.steps)
    print(f"{len(CONTENT)} demo textures, {args.steps} steps; large = textures at "
          f"{LARGE_TEXTURE} px, painting at {LARGE_PAINTING} px")
    print(f"{'measure':<26} {'as given':>11} {'large':>11} {'ratio':>7}")
    rows = (("seconds per step", small_run["train"] / args.steps,
             large_run["train"] / args.steps),
            ("whole run (s)", small_run["total"], large_run["total"]),
            ("peak RSS (MB)", small_run["peak_mb"], large_run["peak_mb"]))
    for name, small, big in rows:
        print(f"{name:<26} {small:>11.3f} {big:>11.3f} {big / small:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
