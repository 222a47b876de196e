"""Reproduce the shipped default styles in ``core/styles/`` with this project's training code.

Each style is trained from its public-domain painting in ``core/data/styles`` on
the CC0 demo textures (``demo/assets/*/*.jpg``) with the CLI's default training
settings (the same a user's new painting gets; ``OVERRIDES`` lists the exceptions), and
saved as ``core/styles/<name>/model.safetensors`` + ``model.json``. Never train on the
held-out judging textures (``../shared/textures``). Run from the extension root:

    .venv/bin/python scripts/ship_styles.py                 # all four, one after another
    .venv/bin/python scripts/ship_styles.py wave --out /tmp/styles

The styles are warm-started from the base generator in ``core/data/base_generator``,
as every new style is; ``base`` retrains that first, from scratch on all four paintings
(a longer run with bigger batches). A fixed step count (no time budget) makes each
model reproducible from its seed.

    .venv/bin/python scripts/ship_styles.py base            # the base, then retrain all
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.store import BASE_DIR, PAINTINGS_DIR, SHIPPED_DIR  # noqa: E402
from core.training.trainer import TrainSettings, train_style  # noqa: E402

SHIPPED: dict[str, str] = {
    "starry_night": "Van Gogh, The Starry Night (1889): swirling blue and yellow brush strokes.",
    "udnie": "Picabia, Udnie (1913): hard-edged cubist planes in grey, blue and rust.",
    "composition_vii": "Kandinsky, Composition VII (1913): dark lines over saturated patches.",
    "wave": "Hokusai, The Great Wave off Kanagawa (c. 1831): flat inked bands and foam curls.",
}
#: What a shipped style trains with apart from the defaults, and why. Composition VII: the
#: outline term flattens its saturated patches with its rims (out/in to the painting .61 ->
#: .67 at weight 2 and 5, stop 37), so it keeps both.
OVERRIDES: dict[str, dict[str, float]] = {"composition_vii": {"outline_weight": 0.0}}

BASE = "base"
#: The base generator's run: from scratch, all paintings at once, 5x the default's work.
BASE_SETTINGS = TrainSettings(device="cpu", steps=1000, batch=4, warm_start=False, name=BASE,
                              description="Base generator: new styles start from it.",
                              time_budget_s=None)


def settings_for(name: str) -> TrainSettings:
    """The exact settings of a shipped style: the training defaults and its ``OVERRIDES``,
    named, with no time budget (the same steps on any machine, so a retrain is reproducible)."""
    return TrainSettings(device="cpu", name=name, description=SHIPPED[name], time_budget_s=None,
                         **OVERRIDES.get(name, {}))


def train_base(contents: list[Path]) -> None:
    """Retrain ``core/data/base_generator`` on every shipped painting."""
    start = time.monotonic()
    paintings = [PAINTINGS_DIR / f"{name}.jpg" for name in SHIPPED]
    train_style(paintings, contents, BASE_DIR, BASE_SETTINGS, progress=_printer(BASE))
    print(f"[{BASE}] saved {BASE_DIR} in {time.monotonic() - start:.0f} s", flush=True)


def _printer(name: str):
    """A progress function printing at most every 20 s (training logs stay readable)."""
    last = [0.0]

    def progress(fraction: float, phase: str, message: str) -> None:
        if time.monotonic() - last[0] > 20:
            last[0] = time.monotonic()
            print(f"[{name}] {fraction:5.1%} {message}", flush=True)

    return progress


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the shipped default styles.")
    # Checked here, not with ``choices``: argparse refuses an empty list against them.
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"what to train: {', '.join([BASE, *SHIPPED])} (default: the styles)")
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR)
    args = parser.parse_args(argv)
    contents = sorted((ROOT / "demo" / "assets").glob("*/*.jpg"))
    names = args.names or list(SHIPPED)
    unknown = sorted(set(names) - {BASE, *SHIPPED})
    if unknown:
        parser.error(f"unknown name {', '.join(unknown)}; known: {', '.join([BASE, *SHIPPED])}")
    if BASE in names:
        train_base(contents)
        names = [n for n in names if n != BASE] or list(SHIPPED)
    for name in names:
        start = time.monotonic()
        folder = train_style([PAINTINGS_DIR / f"{name}.jpg"], contents, args.out / name,
                             settings_for(name), progress=_printer(name))
        print(f"[{name}] saved {folder} in {time.monotonic() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
