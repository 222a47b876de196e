"""Reproduce the shipped default styles in ``core/styles/`` with this project's training code.

Each style is trained from its public-domain painting in ``core/data/styles``
on the CC0 demo textures (``demo/assets/*/*.jpg``) with the settings below, and
saved as ``core/styles/<name>/model.safetensors`` + ``model.json``. Run from the
extension root; the shipped models were made with the two styles side by side,
each limited to 35 minutes (the time budget, so the step count depends on the machine):

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python -m core.training.ship starry_night &
    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python -m core.training.ship udnie

``--budget S`` overrides the time budget per style; ``--out DIR`` writes elsewhere.
One thread per run is deliberate: on a shared 2-core machine two runs side by
side with one thread each beat one run with two threads that fight for cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .trainer import TrainSettings, train_style

ROOT = Path(__file__).resolve().parents[2]
STYLE_DIR = ROOT / "core" / "data" / "styles"

SHIPPED: dict[str, dict] = {
    "starry_night": {
        "description": "Van Gogh, The Starry Night (1889): swirling blue and yellow brush strokes.",
    },
    "udnie": {
        "description": "Picabia, Udnie (1913): hard-edged cubist planes in grey, blue and rust.",
    },
}
COMMON = {"steps": 4000, "size": 128, "batch": 4, "seed": 0, "device": "cpu", "tv_weight": 2.0,
          "adv_weight": 0.05, "time_budget_s": 2100.0}


def settings_for(name: str, budget: float | None = None) -> TrainSettings:
    """The exact settings of a shipped style (``budget`` overrides the time budget)."""
    values = {**COMMON, **{k: v for k, v in SHIPPED[name].items() if k != "description"}}
    if budget is not None:
        values["time_budget_s"] = budget
    return TrainSettings(**values, name=name, description=SHIPPED[name]["description"])


def _printer(name: str):
    """A progress function printing at most every 30 s (training logs stay readable)."""
    last = [0.0]

    def progress(fraction: float, phase: str, message: str) -> None:
        if time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            print(f"[{name}] {fraction:5.1%} {message}", flush=True)

    return progress


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the shipped default styles.")
    parser.add_argument("names", nargs="*", default=list(SHIPPED), choices=list(SHIPPED))
    parser.add_argument("--budget", type=float, default=None, help="seconds per style")
    parser.add_argument("--out", type=Path, default=ROOT / "core" / "styles")
    args = parser.parse_args(argv)
    contents = sorted((ROOT / "demo" / "assets").glob("*/*.jpg"))
    for name in args.names:
        start = time.monotonic()
        folder = train_style([STYLE_DIR / f"{name}.jpg"], contents, args.out / name,
                             settings_for(name, args.budget), progress=_printer(name))
        print(f"[{name}] saved {folder} in {time.monotonic() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
