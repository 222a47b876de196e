"""Training data: augmented random crops of content images and scale-matched style crops.

Crops are taken at the images' native resolution (with mild scale jitter),
because inference runs on textures at their native resolution: a model trained
on downscaled crops paints strokes at the wrong size. Content crops that are
almost flat (UV-island padding, black borders) are redrawn, since they teach
nothing. Every random choice comes from one seeded ``torch.Generator``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from ..errors import BadInput
from ..inference.imageio import load_image, to_float

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tga", ".bmp", ".tif", ".tiff", ".webp")

#: Long side (px) a painting is trained at, at most. The shipped paintings are 512-1071
#: px and the base generator learned marks at that size; a large scan trained at its
#: own would give 128 px crops of one smooth part of a stroke, and its detail bank the
#: canvas weave instead of the marks.
PAINTING_MAX_SIDE = 1200


def load_rgb(path: Path) -> torch.Tensor:
    """Any image the stylizer reads, as a (3,H,W) float tensor in [0,1]; alpha is dropped."""
    image = load_image(path)
    if min(image.rgb.shape[:2]) < 16:
        raise BadInput(f"Image {path} is too small ({image.rgb.shape[1]}x{image.rgb.shape[0]});"
                       " training needs at least 16 px.")
    return torch.from_numpy(np.ascontiguousarray(to_float(image.rgb))).permute(2, 0, 1)


def expand_paths(paths: Sequence[Path | str]) -> list[Path]:
    """Files as given; folders expand to the images inside them (sorted, recursive)."""
    found: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        else:
            found.append(p)
    if not found:
        raise BadInput(f"No images found in {', '.join(str(p) for p in paths) or 'the input'}.")
    return found


def _resize(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``img`` resampled to ``size`` (rows, columns): bilinear, anti-aliased when shrinking."""
    return F.interpolate(img[None], size=size, mode="bilinear",
                         antialias=size[0] < img.shape[1], align_corners=False)[0].clamp(0, 1)


def fit_painting(img: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """A painting at the size its strokes are learned at: brought down to
    ``PAINTING_MAX_SIDE`` on its long side if larger, then times ``scale``."""
    factor = min(1.0, PAINTING_MAX_SIDE / max(img.shape[1:])) * scale
    if factor == 1.0:
        return img
    h, w = img.shape[1:]
    return _resize(img, (max(1, round(h * factor)), max(1, round(w * factor))))


class CropSampler:
    """Random square crops from a set of images, with optional flips and 90-degree turns."""

    def __init__(
        self,
        images: Sequence[torch.Tensor],
        size: int,
        gen: torch.Generator,
        scale_jitter: float = 0.0,
        rotate: bool = True,
        min_std: float = 0.0,
        tone_jitter: bool = False,
        cut_out: float = 0.0,
    ) -> None:
        self.images = list(images)
        self.size = size
        self.gen = gen
        self.jitter = scale_jitter
        self.rotate = rotate
        self.min_std = min_std
        self.tone_jitter = tone_jitter
        self.cut_out = cut_out
        # Larger images get proportionally more crops.
        areas = torch.tensor([float(i.shape[1] * i.shape[2]) for i in self.images])
        self.weights = areas / areas.sum()

    def _uniform(self) -> float:
        return float(torch.rand((), generator=self.gen))

    def _one(self) -> tuple[torch.Tensor, torch.Tensor]:
        """A crop and its flat ground (1, H, W): 1 where a cut-out's ground is, else 0."""
        img = self.images[int(torch.multinomial(self.weights, 1, generator=self.gen))]
        h, w = img.shape[1:]
        # The crop's scale: jittered, and never so small that a side falls short of it.
        factor = 2.0 ** ((self._uniform() * 2 - 1) * self.jitter) if self.jitter else 1.0
        factor = max(factor, self.size / min(h, w))
        # Cut the window the crop covers, then resample only that: resampling the whole
        # image for every crop took seconds a step on 4096 px textures.
        side = min(round(self.size / factor), h, w)
        top = int(self._uniform() * (h - side + 1))
        left = int(self._uniform() * (w - side + 1))
        crop = img[:, top : top + side, left : left + side]
        if side != self.size:
            crop = _resize(crop, (self.size, self.size))
        if self._uniform() < 0.5:
            crop = crop.flip(2)
        if self.rotate:
            crop = torch.rot90(crop, int(self._uniform() * 4), dims=(1, 2))
        if self.tone_jitter and self._uniform() < 0.5:
            crop = self._retone(crop)
        if self._uniform() < self.cut_out:
            return self._cut(crop)
        return crop, torch.zeros(1, *crop.shape[1:])

    def _cut(self, crop: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The crop inside a random ellipse on a flat ground (white, black or a random
        colour), and that ground: a textured island on its padding, a cut-out on white.
        Scene textures alone rarely show a model such an edge, and the halo and ground
        terms need them to act on."""
        size = self.size
        y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32),
                              torch.arange(size, dtype=torch.float32), indexing="ij")
        cy, cx = (0.2 + 0.6 * self._uniform()) * size, (0.2 + 0.6 * self._uniform()) * size
        ry, rx = (0.2 + 0.3 * self._uniform()) * size, (0.2 + 0.3 * self._uniform()) * size
        inside = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 < 1.0
        pick = self._uniform()
        if pick < 0.4:
            ground = torch.ones(3, 1, 1)
        elif pick < 0.6:
            ground = torch.zeros(3, 1, 1)
        else:
            ground = torch.rand(3, 1, 1, generator=self.gen)
        return torch.where(inside, crop, ground.to(crop.dtype)), (~inside)[None].float()

    def _retone(self, crop: torch.Tensor) -> torch.Tensor:
        """A random gamma (0.5-1.4) and gain (0.8-1.5), clipped: lighter, darker and
        blown-out versions of the same texture. A few brown scene textures alone never
        show a model near-white cloth or a white ground, and a style that lifts the
        tones then pushes those past white, where the clip flattens them to patches."""
        gamma = 2.0 ** (self._uniform() * 1.5 - 1.0)
        gain = 0.8 + 0.7 * self._uniform()
        return (crop.clamp(0, 1).pow(gamma) * gain).clamp(0, 1)

    def batch(self, count: int) -> torch.Tensor:
        """``count`` crops as (count,3,size,size); nearly flat crops are redrawn a few times."""
        return self.batch_with_grounds(count)[0]

    def batch_with_grounds(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``batch`` and each crop's cut-out ground (count,1,size,size; zero if not cut)."""
        crops = []
        for _ in range(count):
            crop = self._one()
            for _ in range(8):
                if crop[0].std(dim=(1, 2)).mean() >= self.min_std:
                    break
                crop = self._one()
            crops.append(crop)
        return torch.stack([c for c, _ in crops]), torch.stack([g for _, g in crops])


def content_sampler(images: Sequence[torch.Tensor], size: int, gen: torch.Generator) -> CropSampler:
    """Content crops: native scale +-1/4 octave, flips, 90-degree turns, half of them
    retoned (``CropSampler._retone``), a fifth cut out on a flat ground
    (``CropSampler._cut``), no flat crops.

    A few synthetic textures (``synthetic_textures``) join the given images, weighted
    as one fifth of the crops, so that a model trained on a handful of scene textures
    still meets flat colour fields, hard lines and fine stripes.
    """
    extra = synthetic_textures(max(size * 2, 256), gen)
    sampler = CropSampler([*images, *extra], size, gen, scale_jitter=0.25, rotate=True,
                          min_std=0.04, tone_jitter=True, cut_out=0.2)
    own = sampler.weights[: len(images)]
    sampler.weights = torch.cat([own / own.sum() * 0.8,
                                 torch.full((len(extra),), 0.2 / len(extra))])
    return sampler


def synthetic_textures(side: int, gen: torch.Generator) -> list[torch.Tensor]:
    """Seeded texture-like images: flat colour islands with dark outlines, fine stripes
    and a gingham check of random colours and periods, (3, side, side) in [0, 1].

    The check (period 3-12 px, near the period-4/8 lattice frequencies) is there for the
    lattice penalty: a style that raises a periodic pattern's contrast on it pays.
    """

    def colour() -> torch.Tensor:
        return torch.rand(3, 1, 1, generator=gen) * 0.9 + 0.05

    y, x = torch.meshgrid(torch.arange(side, dtype=torch.float32),
                          torch.arange(side, dtype=torch.float32), indexing="ij")
    islands = colour().expand(3, side, side).clone()
    for _ in range(6):
        cy, cx, r = (torch.rand(3, generator=gen) * torch.tensor([side, side, side / 3])).tolist()
        dist = ((y - cy) ** 2 + (x - cx) ** 2).sqrt()
        islands = torch.where(dist < r, colour(), islands)
        islands = torch.where((dist - r).abs() < 1.5, torch.zeros(3, 1, 1), islands)
    period = 4 + 12 * float(torch.rand((), generator=gen))
    stripes = torch.where(((x + 0.3 * y) / period) % 1.0 < 0.5, colour(), colour())
    period = 3 + 9 * float(torch.rand((), generator=gen))
    across, down = (x / period) % 1.0 < 0.5, (y / period) % 1.0 < 0.5
    ground, band = colour(), colour()
    check = torch.where(across & down, band * band.new_tensor(0.6),
                        torch.where(across | down, band, ground))
    return [islands, stripes, check]


def style_sampler(
    images: Sequence[torch.Tensor], size: int, gen: torch.Generator, scale: float = 1.0
) -> CropSampler:
    """Style crops of the paintings as ``fit_painting`` sizes them; mirrored but never
    turned, since a painting's stroke directions are part of its style."""
    scaled = [fit_painting(i, scale) for i in images]
    return CropSampler(scaled, size, gen, scale_jitter=0.15, rotate=False)


def jpeg_round_trip(batch: torch.Tensor, gen: torch.Generator,
                    qualities: tuple[int, int] = (40, 90)) -> torch.Tensor:
    """Each crop of (N,3,H,W) encoded as a JPEG of a random quality and decoded: the
    8x8 block edges most game textures carry, aligned as in a real file."""
    out = []
    for crop in batch:
        quality = int(qualities[0] + torch.rand((), generator=gen) * (qualities[1] - qualities[0]))
        pixels = (crop.permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
        buffer.seek(0)
        decoded = np.asarray(Image.open(buffer).convert("RGB"), np.float32) / 255.0
        out.append(torch.from_numpy(decoded).permute(2, 0, 1))
    return torch.stack(out).to(batch.dtype)
