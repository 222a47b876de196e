"""Peak memory of small train and stylize jobs against the worker's estimate.

    .venv/bin/python bench/job_memory.py

Each case runs in its own process (so its peak RSS is its own) and prints the
peak RSS above the process's baseline next to ``core.service.limits``'s estimate,
which ``serve --max-job-memory-mb`` compares with its budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASE = r"""
import json, resource, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
kind, a, b, img = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
tmp = Path(tempfile.mkdtemp())
from core.training.trainer import TrainSettings, train_style
from core.inference.stylize import StylizeSettings, stylize_file
from core.store import load_model
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if kind == "train":
    settings = TrainSettings(steps=2, size=a, batch=b, device="cpu")
    train_style([img], [img], tmp / "m", settings)
else:
    model = load_model(sys.argv[6], "cpu")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stylize_file(model, img, tmp / "out.png", StylizeSettings(tile=b, device="cpu"))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"mb": (peak - base) / 1024}))
"""


def measure(kind: str, a: int, b: int, *more: str, side: int = 0) -> float:
    """Peak RSS (MB) of one case in a fresh process, over its baseline after imports; its
    image is ``side`` px square (default: the size, at least 64)."""
    import numpy as np
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "in.png"
        side = side or max(a, 64)
        pixels = np.random.default_rng(0).integers(0, 255, (side, side, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(image)
        done = subprocess.run(
            [sys.executable, "-c", CASE, str(ROOT), kind, str(a), str(b), str(image), *more],
            capture_output=True, text=True, check=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])["mb"]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from core.service.limits import stylize_memory, train_memory
    from core.store import list_styles

    model = list_styles()[0]["path"]
    print(f"{'case':<28}{'measured MB':>12}{'estimate MB':>12}")
    for size, batch in ((128, 1), (256, 1), (256, 4)):
        measured = measure("train", size, batch)
        estimate = train_memory({}, size, batch) / 2**20
        print(f"{f'train size {size} batch {batch}':<28}{measured:>12.0f}{estimate:>12.0f}")
    # Style and content are the same 4096^2 file here: training holds it twice.
    measured = measure("train", 128, 2, side=4096)
    estimate = train_memory({}, 128, 2, 2 * 4096**2) / 2**20
    print(f"{'train 128 x 2 on 4096^2':<28}{measured:>12.0f}{estimate:>12.0f}")
    for side, tile in ((1024, 256), (1024, 512), (2048, 1024)):
        measured = measure("stylize", side, tile, model)
        estimate = stylize_memory({}, side, side, tile) / 2**20
        print(f"{f'stylize {side}px tile {tile}':<28}{measured:>12.0f}{estimate:>12.0f}")


if __name__ == "__main__":
    main()
