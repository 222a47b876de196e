"""The ground beside a silhouette gets the coarse colour of the ground around it.

The generator's coarse levels paint on a 4 and 8 px grid, so a cell that straddles a
cut-out's outline mixes both sides: every style trained so far left a rim 5-15 px wide
of the figure's colour shifted onto the flat ground round it (pink round the held-out
horse, a light band along a basketball's lines). Loss terms against it either moved the
styles away from their paintings or let the fine path paint a lattice instead (see
DEVELOPERS.md). This is a fixed step after the coarse levels, at full resolution where
the input's outline is sharp: on flat pixels within ``NEAR`` cells of a strong edge, the
coarse residual is replaced by the mean residual of the same-coloured flat ground
farther out (within ``REACH`` cells of 4 px). Textured areas, and flat ground without
far ground of its colour close by, keep what the network painted; so do the marks and
streaks, which the full-resolution convs add.

All of it is a function of the input and the coarse residual, so a tile computes it
the same as the whole image given the context ``RADIUS`` and ``COARSE_REACH`` ask for.

It runs at inference only. In training's loop the network learned to paint its glow
just beyond the step's reach: a new painting (mosaic, CLI defaults) had a cyan rim
round the held-out horse and a halo score .048, against .034 trained without it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch.nn import functional as F

from .blur import binomial, luminance, upsample

#: Squared luminance gradient (per pixel, of the [1, 2, 1]-blurred input) of an edge ...
EDGE_ENERGY = 4e-3
#: ... and the level under which a pixel counts as flat (half weight at it).
FLAT_ENERGY = 2e-4
#: Cells of 4 px from a strong edge whose flat ground is settled (the rim's measured
#: width is 5-15 px).
NEAR = 4
#: Radius, in 4 px cells, of the window the far ground's residual is averaged over.
REACH = 8
#: RGB distance within which far ground counts as the same colour (Gaussian sigma).
SAME_COLOUR = 0.08
#: Share of a window's cells that must be far flat ground for the full replacement.
ENOUGH_GROUND = 0.05
#: How far from a pixel this step reads the input itself: the far ground's cells (the
#: window and the bilinear step from it), their edges' reach, and the gradient ...
RADIUS = 4 * (REACH + 2) + 4 * (NEAR + 2) + 2
#: ... and how far the coarse residual's cells it reads lie: a tile needs this much
#: context beyond the coarse levels' own.
COARSE_REACH = 4 * (REACH + 2)


def _gradient_energy(luma: torch.Tensor) -> torch.Tensor:
    """Squared central-difference gradient of the [1, 2, 1]-blurred ``luma`` (N, 1, H, W)."""
    p = F.pad(binomial(luma), (1, 1, 1, 1), mode="replicate")
    gx = (p[..., 1:-1, 2:] - p[..., 1:-1, :-2]) * 0.5
    gy = (p[..., 2:, 1:-1] - p[..., :-2, 1:-1]) * 0.5
    return gx * gx + gy * gy


def _separable(pool: Callable[..., torch.Tensor], x: torch.Tensor, radius: int
               ) -> torch.Tensor:
    """``pool`` (max or mean) over a (2 * radius + 1)^2 square with replicated borders,
    as two 1-D passes."""
    side = 2 * radius + 1
    x = pool(F.pad(x, (radius, radius, 0, 0), mode="replicate"), (1, side), 1)
    return pool(F.pad(x, (0, 0, radius, radius), mode="replicate"), (side, 1), 1)


_dilate = partial(_separable, F.max_pool2d)
_box = partial(_separable, F.avg_pool2d)


def settle_ground(image: torch.Tensor, coarse: torch.Tensor, coarse_cells: torch.Tensor
                  ) -> torch.Tensor | None:
    """The change to make to ``coarse`` (N, 3, H, W: the coarse levels' residual at full
    resolution; ``coarse_cells`` the same on the 4 px grid) for an ``image`` (N, 3, H, W
    in [0, 1], H and W multiples of 4); None where it would be zero everywhere (no
    strong edge with flat ground beside it), which spares the full-resolution half."""
    with torch.autocast(image.device.type, enabled=False):
        image = image.float()
        energy = _gradient_energy(luminance(image))
        # Edges found per pixel, their reach grown on the 4 px grid (at full resolution
        # the dilation took a third of the step's time). Snapped so ``near`` is exactly
        # 1 between edges and exactly 0 away from them: the skip below is then exact.
        edge_cells = F.max_pool2d((energy > EDGE_ENERGY).float(), 4)
        if not bool(edge_cells.any()):
            return None
        near_cells = _dilate(edge_cells, NEAR)
        if not bool(_dilate(1.0 - near_cells, 1).any()):
            return None  # edges everywhere (most wood, fabric, stone): no far ground
        near = upsample(near_cells, 4).mul_(1.0001).clamp_(max=1.0)
        flat = FLAT_ENERGY**2 / (energy.square() + FLAT_ENERGY**2)
        far = F.avg_pool2d(flat * (1.0 - near), 4)
        share = _box(far, REACH)
        if not bool((_dilate(near_cells, 1) * _dilate((share > 0).float(), 1)).any()):
            return None
        scale = 1.0 / (share + 1e-6)
        ground = _box(far * coarse_cells.float(), REACH) * scale
        ground_colour = _box(far * F.avg_pool2d(image, 4), REACH) * scale
        enough = share / (share + ENOUGH_GROUND)
        cells = torch.cat([ground, ground_colour, enough], dim=1)
        ground, ground_colour, enough = upsample(cells, 4).split((3, 3, 1), dim=1)
        alike = torch.exp((image - ground_colour).square().sum(1, keepdim=True)
                          / (-2 * SAME_COLOUR**2))
        return (flat * near * enough * alike) * (ground - coarse.float())
