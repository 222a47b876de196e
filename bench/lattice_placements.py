"""The lattice ratio over placements of the painting's marks, per style and held-out texture.

``bench/quality.py`` stylizes each texture once, with the position-keyed noise (streaks,
the painting's marks) where the texture's top-left corner puts it. Another texture, or
the same one cut elsewhere, puts the marks elsewhere: a single figure can be lucky. Here
each texture is stylized with its noise keyed from several origins (multiples of the
marks' cell, as tiles are) and the output/input lattice ratio's median and maximum are
printed, next to the input's own ratio.

Run: ``.venv/bin/python bench/lattice_placements.py [--styles NAME ...]
[--textures FILE ...] [--placements 8]``; a model folder works as a style name.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from metrics import lattice_ratio  # noqa: E402
from quality import judging_parser, parse_judging_args  # noqa: E402

from core.model.noise import grid_coords  # noqa: E402
from core.store import load_model  # noqa: E402
from core.training.data import load_rgb  # noqa: E402

#: Textures are cut to at most this side (the lattice peaks are the same at any size).
SIDE = 1024


def placement_ratios(generator, image: torch.Tensor,
                     placements: int) -> tuple[float, list[float]]:
    """The lattice ratio of ``image`` (3, H, W) cut to a multiple of the generator's
    ``multiple``, and the output's over it with the noise keyed from ``placements``
    origins far apart (on the marks' grid)."""
    step = generator.multiple
    h, w = (side // step * step for side in image.shape[1:])
    image = image[:, :h, :w]
    lat_in = lattice_ratio(image.permute(1, 2, 0).numpy())
    ratios = []
    for k in range(placements):
        origin = torch.tensor([[step * 37 * k, step * 53 * k]])
        out = generator(image[None], grid_coords(1, h, w, origin))[0].clamp(0, 1)
        ratios.append(lattice_ratio(out.permute(1, 2, 0).numpy()) / lat_in)
    return lat_in, ratios


def main() -> None:
    parser = judging_parser(__doc__.splitlines()[0])
    parser.add_argument("--placements", type=int, default=8)
    args = parse_judging_args(parser)
    torch.set_grad_enabled(False)
    images = {}
    for path in args.textures:
        images[Path(path).stem] = load_rgb(Path(path))[:, :SIDE, :SIDE].contiguous()
    print(f"{'style':16} {'texture':32} {'lat in':>6} {'median':>6} {'max':>6}  "
          f"(output/input over {args.placements} placements)")
    for name in args.styles:
        generator = load_model(name, device="cpu").generator.eval()
        worst = []
        for texture, image in images.items():
            lat_in, ratios = placement_ratios(generator, image, args.placements)
            worst.append(max(ratios))
            print(f"{name:16} {texture[:32]:32} {lat_in:6.1f} {np.median(ratios):6.2f} "
                  f"{max(ratios):6.2f}", flush=True)
        print(f"{name:16} {'worst texture':32} {'':6} {'':6} {max(worst):6.2f}")


if __name__ == "__main__":
    main()
