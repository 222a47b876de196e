"""Marks sampled from the painting itself: its fine detail, laid down as patches.

The generator's coarse levels carry a painting's palette and large shapes, and the
stroke streaks give flat ground a brush-like grain, but neither has the painting's own
marks: Van Gogh's dabs, Hokusai's foam curls, a stained glass window's lead lines.
Here those marks come from the painting: a bank of small patches of its detail (the
painting minus its blur), cut when a style is trained and stored with the model. At
run time every pixel reads the patches of the four nearest vertices of a ``CELL``-pixel
grid. Each vertex has a patch of its own, picked, mirrored or not and read from a
window at a place of its own inside it by a hash of the vertex's source position. The
four are blended with weights that preserve the detail's contrast (the
histogram-preserving blend of Heitz and Neyret 2018, for a zero-mean exemplar). The
generator's full-resolution convs read the result as extra channels and learn how much
of it the painting wants and where.

The patches are zero-mean and the blend is keyed to positions, not to content, so the
result has no mean pattern at the grid's period, and a tile, the whole image and both
sides of a seamless border (side a multiple of ``CELL``) agree. The grid's vertices sit
on every ``CELL``-th row and column of a tile, and tiles start at multiples of it
(the generator's ``multiple``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from .blur import gaussian_blur
from .noise import position_noise

#: Pixels between the grid's vertices; a vertex's window covers the two cells around it.
CELL = 16
WINDOW = 2 * CELL
#: Side of a stored patch: each vertex reads its window at a place of its own inside, so
#: no part of a patch sits at the same place in every cell (that would be a grid).
PATCH = 4 * CELL
#: The painting's detail: what a Gaussian of this sigma (pixels) blurs away.
DETAIL_SIGMA = 2.0
#: Hash channels for the vertices' patch choice and mirroring (beyond the others' own).
_ID_CHANNEL = 1 << 11


def painting_patches(paintings: Sequence[torch.Tensor], count: int,
                     gen: torch.Generator) -> torch.Tensor:
    """(count, 3, PATCH, PATCH): patches of the paintings' detail (image minus its blur,
    each (3, H, W) in [0, 1] at the scale the style is trained on) at random places,
    the larger painting giving more; zero mean per channel over the bank, unit spread."""
    details = [image - gaussian_blur(image[None], DETAIL_SIGMA)[0]
               for image in map(_at_least_a_patch, paintings)]
    areas = torch.tensor([float(d.shape[1] * d.shape[2]) for d in details])
    picks = torch.multinomial(areas / areas.sum(), count, replacement=True, generator=gen)
    patches = []
    for pick in picks.tolist():
        detail = details[pick]
        top = int(torch.randint(0, detail.shape[1] - PATCH + 1, (), generator=gen))
        left = int(torch.randint(0, detail.shape[2] - PATCH + 1, (), generator=gen))
        patches.append(detail[:, top : top + PATCH, left : left + PATCH])
    bank = torch.stack(patches)
    bank = bank - bank.mean(dim=(0, 2, 3), keepdim=True)
    return bank / (bank.std() + 1e-6)


def _at_least_a_patch(image: torch.Tensor) -> torch.Tensor:
    """``image``, scaled up (bilinear) if a side is shorter than a patch."""
    short = min(image.shape[1:])
    if short >= PATCH:
        return image
    return F.interpolate(image[None], scale_factor=PATCH / short, mode="bilinear",
                         align_corners=False)[0]


def patch_marks(bank: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) the bank's patches (P, C, PATCH, PATCH) blended over a tile whose
    pixels have source coordinates ``rows`` (N, H) and ``cols`` (N, W) (tiles agree
    where they start on a vertex: at multiples of ``CELL``)."""
    count, channels = bank.shape[:2]
    n, height, width = len(rows), rows.shape[1], cols.shape[1]
    # Vertex positions: every CELL-th pixel, and one past the end (its source position
    # extrapolated: it only matters at a non-seamless edge, where every pass agrees).
    v_rows = torch.cat([rows[:, ::CELL], rows[:, -1:] + 1], dim=1)
    v_cols = torch.cat([cols[:, ::CELL], cols[:, -1:] + 1], dim=1)
    picks = position_noise(v_rows, v_cols, 4, _ID_CHANNEL)  # (N, 4, H/CELL+1, W/CELL+1)
    ids = ((picks[:, 0] + 1) * (count / 2)).long().clamp_(0, count - 1)
    mirrored = picks[:, 1] < 0
    places = PATCH - WINDOW + 1
    offsets = ((picks[:, 2:] + 1) * (places / 2)).long().clamp_(0, places - 1)
    # A mirrored window is read from the mirrored copy, which follows the originals in
    # the flat table, at the mirrored place: a mirror is just another patch to gather.
    table = torch.cat([bank, bank.flip(-1)]).permute(0, 2, 3, 1).reshape(-1, channels)
    left = torch.where(mirrored, places - 1 - offsets[:, 1], offsets[:, 1])
    starts = (((ids + count * mirrored) * PATCH + offsets[:, 0]) * PATCH + left).int()
    cells_y, cells_x = v_rows.shape[1] - 1, v_cols.shape[1] - 1
    local = torch.arange(CELL, device=rows.device)
    frac = (local.float() + 0.5) / CELL  # the far vertex's weight inside a cell
    corners = []
    for dy in (0, 1):
        for dx in (0, 1):
            # Squared tent weights: each patch stays whole near its vertex, short blends.
            weight = ((frac if dy else 1 - frac).view(-1, 1, 1)
                      * (frac if dx else 1 - frac).view(1, 1, -1)).square()
            inside = ((local + CELL * (1 - dy)) * PATCH).view(-1, 1, 1) + (
                local + CELL * (1 - dx)).view(1, 1, -1)  # (CELL, 1, CELL) in the window
            # (N, cells_y, CELL, cells_x, CELL): the pixels in image order, so the
            # gathered result is the image with no reordering.
            index = starts[:, dy : dy + cells_y, None, dx : dx + cells_x, None] + inside
            corners.append((index, weight))
    # The contrast-preserving blend: sum of weight * patch over the root of sum weight^2.
    norm = sum(weight.square() for _, weight in corners).rsqrt_()
    total = None
    for index, weight in corners:
        part = F.embedding(index, table)
        scale = (weight * norm)[..., None]
        total = part.mul_(scale) if total is None else total.addcmul_(part, scale)
    # Channels-last (N, H, W, C) memory seen as (N, C, H, W), as the generator's planes;
    # cut to size where a side is not a multiple of CELL (training crops need only 8).
    total = total.view(n, cells_y * CELL, cells_x * CELL, channels).permute(0, 3, 1, 2)
    return total[:, :, :height, :width]
