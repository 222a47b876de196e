"""Halos: the training term that prices rims and glows beside the input's strong edges,
and the bench's independent halo score, each tell a colour map from a glow."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from core.training import losses

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from metrics import halo_score


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
