"""What the training losses ask for: the pixels of two demo crops optimised under them.

A generator can only paint what its losses reward. Optimising an image's pixels
directly (no network in the way) under the style and structure terms shows what that
is: here, with the sliced patch term and structure at sigma 1 and 4, the optimum was
the painting's palette plus per-pixel colour noise, no marks; with the neighbour term
and structure at sigma 4 and 8 it held the painting's dabs (stop 39). Prints each
variant's final terms and writes a sheet: the crops, then one row per variant.

Run: ``.venv/bin/python bench/loss_probe.py [--style starry_night] [--steps 300]
[--out out/loss_probe.png]`` (about 30-60 s a variant on 2 cores). Demo textures only:
this looks at the losses, not at held-out results.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.store import PAINTINGS_DIR  # noqa: E402
from core.training import losses  # noqa: E402
from core.training.data import load_rgb, style_sampler  # noqa: E402
from core.training.trainer import STYLE_SETS, TrainSettings  # noqa: E402

CONTENTS = ("crate/crate.jpg", "barrel/barrelS_D.jpg")
#: Variant -> (structure sigmas, structure weight, neighbour weight).
VARIANTS: dict[str, tuple[tuple[float, ...], float, float]] = {
    "sliced, structure 1+4": ((1.0, 4.0), 1.0, 0.0),
    "sliced, structure 4+8": ((4.0, 8.0), 0.3, 0.0),
    "defaults": (losses.STRUCTURE_SIGMAS, TrainSettings.content_weight,
                 TrainSettings.neighbour_weight),
}


def centre_crops(size: int) -> torch.Tensor:
    """(2, 3, size, size) from the middle of the demo textures."""
    crops = []
    for name in CONTENTS:
        image = load_rgb(ROOT / "demo" / "assets" / name)
        top, left = (image.shape[1] - size) // 2, (image.shape[2] - size) // 2
        crops.append(image[:, top : top + size, left : left + size])
    return torch.stack(crops)


def optimise(content: torch.Tensor, painting: torch.Tensor,
             variant: tuple[tuple[float, ...], float, float],
             steps: int) -> tuple[torch.Tensor, dict[str, float]]:
    """The crops' pixels after ``steps`` of Adam under one variant's terms."""
    sigmas, structure_weight, neighbour_weight = variant
    gen = torch.Generator().manual_seed(0)
    sampler = style_sampler([painting], TrainSettings.size, gen)
    batches = [sampler.batch(TrainSettings.batch) for _ in range(STYLE_SETS)]
    patches = losses.StylePatches(batches, gen)
    neighbours = losses.StyleNeighbours(batches[: STYLE_SETS // 2], gen)
    pixels = content.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([pixels], lr=0.02)
    for step in range(steps):
        terms = {"style": patches.distance(pixels, gen, step),
                 "structure": losses.structure_loss(pixels, content, sigmas),
                 "neighbours": neighbours.distance(pixels, gen)}
        total = (terms["style"] + structure_weight * terms["structure"]
                 + neighbour_weight * terms["neighbours"] + 10 * losses.range_penalty(pixels))
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
    return pixels.detach().clamp(0, 1), {k: float(v.detach()) for k, v in terms.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", default="starry_night", help="a shipped painting's name")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "loss_probe.png")
    args = parser.parse_args()
    torch.manual_seed(0)
    painting = load_rgb(PAINTINGS_DIR / f"{args.style}.jpg")
    content = centre_crops(args.size)
    rows = [content]
    print(f"{'variant':24} {'style':>7} {'structure':>9} {'neighbours':>10} {'s':>5}")
    for name, variant in VARIANTS.items():
        start = time.monotonic()
        pixels, terms = optimise(content, painting, variant, args.steps)
        rows.append(pixels)
        print(f"{name:24} {terms['style']:7.3f} {terms['structure']:9.3f} "
              f"{terms['neighbours']:10.3f} {time.monotonic() - start:5.0f}")
    sheet = torch.cat([torch.cat(list(row), dim=2) for row in rows], dim=1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((sheet.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(
        args.out)
    print(f"sheet (crops, then one row per variant): {args.out}")


if __name__ == "__main__":
    main()
