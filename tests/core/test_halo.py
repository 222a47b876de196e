"""Halos: the training terms that price rims and glows beside the input's strong edges
and a tint on a cut-out's ground, and the bench's independent halo and tint scores, each
tell a colour map or painted marks from a glow; the generator's ground step takes a
coarse glow off flat ground."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.nn import functional as F

from core.model.generator import build_generator
from core.model.ground import settle_ground
from core.training import losses

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from metrics import ground_tint, halo_score


def silhouettes(size: int = 192) -> torch.Tensor:
    """A brown, mottled disc on white and a black line across an orange field: the edges
    a halo forms along. (3, size, size) in 0..1."""
    gen = torch.Generator().manual_seed(0)
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    image = torch.ones(3, size, size)
    disc = (x - size * 0.3) ** 2 + (y - size * 0.3) ** 2 < (size * 0.22) ** 2
    mottle = torch.nn.functional.interpolate(torch.rand(1, 1, 12, 12, generator=gen),
                                             size=(size, size), mode="bilinear")[0, 0]
    brown = torch.tensor([0.45, 0.25, 0.12]).view(3, 1, 1) * (0.8 + 0.4 * mottle)
    image = torch.where(disc, brown, image)
    field = y > size * 0.6
    image = torch.where(field, torch.tensor([0.8, 0.4, 0.05]).view(3, 1, 1), image)
    line = field & ((x - y * 0.5 - size * 0.35).abs() < 3)
    return torch.where(line, torch.zeros(3, 1, 1), image).clamp(0, 1)


def glow(image: torch.Tensor, amount: float = 0.6) -> torch.Tensor:
    """An unsharp mask at a 6 px scale on a toned-down copy (nothing clips): the rim and
    glow a halo is."""
    image = 0.2 + 0.6 * image
    blurred = losses.gaussian_blur(image[None], 6.0)[0]
    return (image + amount * (image - blurred)).clamp(0, 1)


def test_halo_penalty_is_free_for_colour_maps_and_prices_a_glow():
    source = silhouettes(128)[None]
    recoloured = 0.2 + 0.6 * source.flip(1)
    assert float(losses.halo_penalty(source, source)) < 0.002
    assert float(losses.halo_penalty(recoloured, source)) < 0.002
    glowing = glow(source[0])[None].requires_grad_(True)
    penalty = losses.halo_penalty(glowing, source)
    assert float(penalty.detach()) > 0.01
    penalty.backward()
    assert glowing.grad is not None and glowing.grad.abs().sum() > 0


def test_halo_score_sees_a_glow():
    source = silhouettes()
    assert halo_score(source, source) < 0.02
    assert halo_score(source, glow(source)) > 0.05
    busy = torch.rand(3, 96, 96, generator=torch.Generator().manual_seed(1))
    assert halo_score(busy, busy) is None  # no edge with a flat side: nothing to measure


def _cut_out(size: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """A brown disc cut out on white (1, 3, size, size) and its ground (1, 1, size, size)."""
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    figure = (((x - size * 0.4) ** 2 + (y - size * 0.4) ** 2) < (size * 0.2) ** 2).float()
    brown = torch.tensor([0.45, 0.25, 0.12]).view(1, 3, 1, 1)
    return figure * brown + (1 - figure), (1 - figure)[None, None]


def test_ground_penalty_prices_a_tint_round_a_cut_out_not_marks_or_a_colour_change():
    source, ground = _cut_out()
    gen = torch.Generator().manual_seed(2)
    marked = 0.2 + 0.6 * source + 0.15 * torch.randn(source.shape, generator=gen)
    tinted = (marked + 0.15 * losses.gaussian_blur(1 - ground, 12.0)).requires_grad_(True)
    assert float(losses.ground_penalty(0.2 + 0.6 * source, ground)) < 1e-8
    assert float(losses.ground_penalty(marked, ground)) < 1e-3
    penalty = losses.ground_penalty(tinted, ground)
    assert float(penalty.detach()) > 10 * float(losses.ground_penalty(marked, ground))
    penalty.backward()
    assert tinted.grad is not None and tinted.grad.abs().sum() > 0
    assert float(losses.ground_penalty(tinted, torch.zeros_like(ground))) == 0  # not cut


def test_the_outline_band_prices_a_sharpened_rim_the_ground_band_leaves_to_it():
    source, ground = _cut_out()
    gen = torch.Generator().manual_seed(3)
    marked = 0.2 + 0.6 * source + 0.15 * torch.randn(source.shape, generator=gen)
    # An unsharp mask: the ground right beside the disc lit up, 1-2 px wide.
    sharpened = marked + 1.5 * (source - losses.gaussian_blur(source, 1.0))
    bands = losses.OUTLINE_BANDS
    assert float(losses.ground_penalty(marked, ground, **bands)) < 1e-3
    rim = float(losses.ground_penalty(sharpened, ground, **bands))
    assert rim > 10 * float(losses.ground_penalty(marked, ground, **bands))
    assert rim > 10 * float(losses.ground_penalty(sharpened, ground))  # beyond the gap
    # A wash over the whole ground, however strong, is not an outline.
    washed = marked + 0.3 * torch.linspace(0, 1, 128).view(1, 1, 1, -1)
    assert float(losses.ground_penalty(washed, ground, **bands)) < 1e-3


def test_ground_tint_sees_a_broad_glow():
    source, ground = _cut_out(192)
    source, ground = source[0], ground[0]
    assert ground_tint(source, source) < 1e-4
    glowing = source - 0.5 * losses.gaussian_blur((1 - ground)[None], 12.0)[0]
    assert ground_tint(source, glowing) > 0.04
    busy = torch.rand(3, 96, 96, generator=torch.Generator().manual_seed(1))
    assert ground_tint(busy, busy) is None  # no flat ground: nothing to measure


def test_settle_ground_lifts_a_coarse_glow_off_flat_ground_and_leaves_the_rest():
    # A furry disc cut out on white, like the held-out horse.
    size, gen = 192, torch.Generator().manual_seed(3)
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    figure = (((x - 96) ** 2 + (y - 96) ** 2) < 40**2).float()[None, None]
    fur = torch.tensor([0.45, 0.25, 0.12]).view(1, 3, 1, 1) * (0.5 + torch.rand(1, 1, size, size,
                                                                                generator=gen))
    source = figure * fur + (1 - figure)
    # A coarse residual like the network's: a uniform shift plus a rim that spreads from
    # the figure onto the white ground (what a 4 px grid straddling the outline paints).
    coarse = 0.05 + 0.3 * losses.gaussian_blur(figure, 6.0).expand(-1, 3, -1, -1)
    settled = coarse + settle_ground(source, coarse, F.avg_pool2d(coarse, 4))
    white = (1 - figure)[0, 0].bool()
    # 3-12 px out: the outline's own 2 px blend stays (its pixels are not flat).
    rim = (F.max_pool2d(figure, 25, stride=1, padding=12)
           - F.max_pool2d(figure, 5, stride=1, padding=2))[0, 0] > 0
    far = white & (F.max_pool2d(figure, 81, stride=1, padding=40)[0, 0] == 0)

    def glow_of(residual: torch.Tensor) -> float:
        return float((residual[0][:, rim].mean(1) - residual[0][:, far].mean(1)).abs().max())

    assert glow_of(coarse) > 0.02
    assert glow_of(settled) < 0.25 * glow_of(coarse)
    inside = figure[0, 0] > 0
    assert float((settled - coarse)[..., inside].abs().max()) < 1e-3
    # A shift everywhere is a colour change, not a glow; texture keeps what was painted.
    shift = torch.full_like(coarse, 0.05)
    assert float(settle_ground(source, shift, F.avg_pool2d(shift, 4)).abs().max()) < 1e-4
    busy = torch.rand(1, 3, 96, 96, generator=gen)
    glowing = coarse[..., 48:144, 48:144]
    assert settle_ground(busy, glowing, F.avg_pool2d(glowing, 4)) is None  # skipped, exactly
    plain = torch.full_like(busy, 0.7)  # no edge at all
    assert settle_ground(plain, glowing, F.avg_pool2d(glowing, 4)) is None


def test_the_generator_settles_ground_at_inference_only():
    torch.manual_seed(0)
    generator = build_generator().eval()
    torch.nn.init.normal_(generator.quarter_head.weight, std=0.003)  # a coarse residual
    # Mid-grey silhouettes: inference also clips the result to 0..1, and nothing may clip.
    source = silhouettes(128)[None] * 0.5 + 0.25
    with torch.no_grad():
        settled = generator(source)
    with torch.enable_grad():
        painted = generator(source).detach()
    assert float(painted.min()) > 0 and float(painted.max()) < 1
    changed = (settled - painted).abs().amax(1)[0]
    assert float(changed.max()) > 1e-2  # the step ran
    # Far from every edge: untouched but for the lattice notch's faint reach.
    assert float(changed[:20, 100:].max()) < 0.01 * float(changed.max())
