"""Quality table and contact sheet of the shipped styles on held-out textures.

Judged on textures no shipped style trained on (``../shared/textures`` beside
the checkout by default) with metrics the training never saw (``bench/metrics.py``):
per texture and style, the style distance of the output next to the unchanged
input's and a plain colour transfer's (all unsquared; lower is nearer the
painting), blurred-luminance SSIM and edge correlation with the input (higher
keeps more content), the lattice ratio of output and input, and the halo score
of input and output (beside strong edges with flat input: lower is cleaner;
"-" where a texture has no such edge) and the ground tint (the output's colour on a flat
ground near a figure against far from it; "-" without such a ground). A contact sheet
(input | each style, 256 px crops at 100% zoom) is written for looking at.

Run: ``.venv/bin/python bench/quality.py [--styles NAME ...] [--textures FILE ...]
[--out out/quality]``; a model folder works as a style name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from metrics import (  # noqa: E402
    MetricNet,
    colour_transfer,
    content_scores,
    ground_tint,
    halo_score,
    lattice_ratio,
    style_distance,
)

from core.inference.stylize import StylizeSettings, stylize_array  # noqa: E402
from core.store import list_styles, load_model  # noqa: E402
from core.training.data import IMAGE_SUFFIXES, load_rgb  # noqa: E402

HELD_OUT = ROOT.parent / "shared" / "textures"
STYLE_IMAGES = ROOT / "core" / "data" / "styles"
CROP = 256


def stylize(model, image: torch.Tensor, keep_colours: bool) -> torch.Tensor:
    """The product's own inference path (tiled, seamless auto) on a (3,H,W) image."""
    rgb = np.ascontiguousarray(image.permute(1, 2, 0).numpy())
    out = stylize_array(model, rgb, StylizeSettings(device="cpu", preserve_color=keep_colours))
    return torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1)


def _optional(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _measured_mean(values: list[float]) -> float | None:
    """The mean of the values that are not NaN (a texture the score cannot measure)."""
    measured = [v for v in values if not np.isnan(v)]
    return float(np.mean(measured)) if measured else None


def style_image(model) -> torch.Tensor:
    """The painting a model was trained on (the first one in its metadata)."""
    name = model.meta["style_images"][0]["file"]
    for folder in (STYLE_IMAGES, Path(model.path or ".")):
        if (folder / name).is_file():
            return load_rgb(folder / name)
    raise SystemExit(f"Style image {name} of {model.name} not found in {STYLE_IMAGES}.")


def _to_u8(x: torch.Tensor) -> np.ndarray:
    return (x.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def contact_sheet(names: list[str], columns: list[str], cells: list[list[torch.Tensor]],
                  path: Path) -> None:
    """One row per texture: a 256 px crop (top left, 100% zoom) of the input and each style."""
    label = 14
    sheet = Image.new("RGB", (CROP * len(columns), (CROP + label) * len(cells)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (name, row) in enumerate(zip(names, cells, strict=True)):
        top = r * (CROP + label)
        for c, (column, image) in enumerate(zip(columns, row, strict=True)):
            crop = _to_u8(image[:, :CROP, :CROP])
            sheet.paste(Image.fromarray(crop), (c * CROP, top + label))
            draw.text((c * CROP + 2, top + 1), f"{name[:22]} | {column}", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def judging_parser(description: str) -> argparse.ArgumentParser:
    """``--styles`` (default: the shipped ones) and ``--textures`` (default: the held-out
    ones), which every judging bench takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--styles", nargs="+",
                        default=[s["name"] for s in list_styles() if s["source"] == "shipped"])
    parser.add_argument("--textures", nargs="+", default=sorted(
        str(p) for p in HELD_OUT.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES))
    return parser


def parse_judging_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    if not args.textures:
        raise SystemExit(f"No textures given and none found in {HELD_OUT}.")
    return args


def main() -> None:
    parser = judging_parser(__doc__.splitlines()[0])
    parser.add_argument("--keep-colours", action="store_true",
                        help="stylize with 'keep original colours' on")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "quality")
    args = parse_judging_args(parser)
    torch.set_grad_enabled(False)
    net = MetricNet()
    names = [Path(p).stem for p in args.textures]
    sources = [load_rgb(Path(p)) for p in args.textures]
    cells = [[s] for s in sources]
    print(f"{len(sources)} held-out textures from {Path(args.textures[0]).parent}")
    header = (f"{'style':14} {'texture':32} {'dist in':>7} {'dist ct':>7} {'dist out':>8} "
              f"{'out/in':>6} {'out/ct':>6} {'SSIM':>5} {'edge':>5} {'lat in':>6} {'lat out':>7} "
              f"{'halo in':>7} {'halo':>5} {'tint':>5}")
    summary = []
    # Every model and painting first: a missing one fails before minutes of work.
    loaded = [(model, style_image(model))
              for model in (load_model(name, device="cpu") for name in args.styles)]
    for model, style in loaded:
        print(header)
        rows = []
        for name, src, row in zip(names, sources, cells, strict=True):
            out = stylize(model, src, args.keep_colours)
            row.append(out)
            d_in = style_distance(net, src, style)
            d_ct = style_distance(net, colour_transfer(src, style), style)
            d_out = style_distance(net, out, style)
            ssim, edge = content_scores(src, out)
            lat_in = lattice_ratio(src.permute(1, 2, 0).numpy())
            lat_out = lattice_ratio(out.permute(1, 2, 0).numpy())
            halo_in, halo_out = halo_score(src, src), halo_score(src, out)
            tint = ground_tint(src, out)
            rows.append((d_in, d_ct, d_out, ssim, edge, lat_out / lat_in,
                         np.nan if halo_out is None else halo_out,
                         np.nan if tint is None else tint))
            print(f"{model.name:14} {name[:32]:32} {d_in:7.3f} {d_ct:7.3f} {d_out:8.3f} "
                  f"{d_out / d_in:6.2f} {d_out / d_ct:6.2f} {ssim:5.2f} {edge:5.2f} "
                  f"{lat_in:6.1f} {lat_out:7.1f} {_optional(halo_in):>7} {_optional(halo_out):>5} "
                  f"{_optional(tint):>5}")
        mean = np.mean(np.array(rows), axis=0)
        worst_lattice = max(r[5] for r in rows)
        summary.append((model.name, *mean[:5], worst_lattice,
                        *(_measured_mean([r[i] for r in rows]) for i in (6, 7))))
    print("\nmeans over textures (distances unsquared; lattice: worst output/input ratio; "
          "halo, tint: mean where measurable)")
    print(f"{'style':14} {'dist in':>7} {'dist ct':>7} {'dist out':>8} {'out/in':>6} "
          f"{'out/ct':>6} {'SSIM':>5} {'edge':>5} {'lattice':>7} {'halo':>5} {'tint':>5}")
    for name, d_in, d_ct, d_out, ssim, edge, lattice, halo, tint in summary:
        print(f"{name:14} {d_in:7.3f} {d_ct:7.3f} {d_out:8.3f} {d_out / d_in:6.2f} "
              f"{d_out / d_ct:6.2f} {ssim:5.2f} {edge:5.2f} {lattice:7.2f} {_optional(halo):>5} "
              f"{_optional(tint):>5}")
    suffix = "_keep_colours" if args.keep_colours else ""
    sheet = args.out / f"contact_sheet{suffix}.png"
    contact_sheet(names, ["input", *[s for s in args.styles]], cells, sheet)
    print(f"contact sheet: {sheet}")


if __name__ == "__main__":
    main()
