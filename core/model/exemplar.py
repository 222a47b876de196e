"""Marks sampled from the painting itself: its detail, laid down as patches.

The generator's coarse levels carry a painting's palette and large shapes, and the
stroke streaks give flat ground a brush-like grain, but neither has the painting's own
marks: Van Gogh's dabs, Hokusai's foam curls, a stained glass window's lead lines.
Here those marks come from the painting: a bank of patches of its detail (the painting
minus its blur), cut when a style is trained and stored with the model. At run time
every pixel reads the patches of the four nearest vertices of a grid (``MarkLayout.cell``
pixels apart). Each vertex has a patch of its own, picked by a hash of the vertex's
source position. The four are blended with weights that preserve the detail's contrast
(the histogram-preserving blend of Heitz and Neyret 2018, for a zero-mean exemplar).

Three layouts. ``FINE`` (restyle-gen9) keeps the painting's finest detail, read from a
hashed place inside a larger patch, mirrored or not; the generator's full-resolution
convs read it as extra channels. ``TURNED`` (restyle-gen10) keeps the strokes (what a
sigma-4 blur takes away) and turns each vertex's patch so its strokes run along the
texture's flow at the vertex (``strokes.flow_turns``: along grain, planks and edges; on
flat ground a slow swirl), the way a painter's strokes follow the form. Through the convs
alone a style took little of the fine marks, so the generator also adds the turned ones
straight, through a learned colour map. ``BROAD`` (restyle-gen11 on) cuts whole marks: a
sigma-6 band in windows of 64 px, wide enough for a Starry Night dab, an Udnie plane, a
Kandinsky line or a Hokusai foam curl (in 32 px windows every mark was cut into
fragments, which read as noise). Trained, a style took almost none of v10's marks (its
colour map's gains were about .01): every term but the detail term counted them against
it. So broad marks are laid at a fixed share of the painting's own contrast
(``STRAIGHT_SHARE``), and nothing learned reads them (a learned map beside that gain
learned to cancel it).

The patches are zero-mean and the blend is keyed to positions, not to content, so the
result has no mean pattern at the grid's period, and a tile, the whole image and both
sides of a seamless border (side a multiple of the cell) agree. The grid's vertices sit
on every cell-th row and column of a tile, and tiles start at multiples of it (the
generator's ``multiple``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .blur import gaussian_blur, luminance
from .noise import position_noise
from .strokes import flow_angle, structure_tensor


@dataclass(frozen=True)
class MarkLayout:
    """How a generator lays the painting's marks: the grid, the stored patches' side, the
    detail they keep, and whether each vertex's patch is turned along the texture's flow."""

    cell: int  # pixels between the grid's vertices; a vertex's window covers two cells
    patch: int  # side of a stored patch
    sigma: float  # the painting's detail: what a Gaussian of this sigma (pixels) blurs away
    turns: int  # 0: windows at hashed places, mirrored or not; else the turns per half turn

    @property
    def window(self) -> int:
        return 2 * self.cell


#: restyle-gen9: the painting's finest detail, each window read at a hashed place inside a
#: patch twice its side (no part of a patch sits at the same place in every cell, which
#: would be a grid).
FINE = MarkLayout(cell=16, patch=64, sigma=2.0, turns=0)
#: restyle-gen10: the painting's strokes (the detail a sigma-4 blur takes: dabs, lines,
#: curls), each patch turned so its strokes run along the texture's own flow at its vertex.
#: A patch is cut large enough (side > window * sqrt 2) that every turn fills the window.
TURNED = MarkLayout(cell=16, patch=48, sigma=4.0, turns=8)
#: restyle-gen11 on: whole marks, each in a window of 64 px (what a sigma-6 blur takes).
BROAD = MarkLayout(cell=32, patch=96, sigma=6.0, turns=8)
#: ``BROAD`` marks are laid straight at this share of the painting's own detail contrast
#: (``painting_contrast``). Laid by hand over v10's styles, 1 swamped the table wood's grain;
#: in v10's 32 px windows .5 was barely seen at 100% zoom.
STRAIGHT_SHARE = 0.6
#: Hash channels for the vertices' patch choice and mirroring (beyond the others' own).
_ID_CHANNEL = 1 << 11


def painting_patches(paintings: Sequence[torch.Tensor], count: int, gen: torch.Generator,
                     layout: MarkLayout = FINE) -> torch.Tensor:
    """(count, 3, patch, patch): patches of the paintings' detail (image minus its blur,
    each (3, H, W) in [0, 1] at the scale the style is trained on) at random places,
    the larger painting giving more; zero mean per channel over the bank, unit spread."""
    side = layout.patch
    details = [image - gaussian_blur(image[None], layout.sigma)[0]
               for image in (_at_least(image, side) for image in paintings)]
    areas = torch.tensor([float(d.shape[1] * d.shape[2]) for d in details])
    picks = torch.multinomial(areas / areas.sum(), count, replacement=True, generator=gen)
    patches = []
    for pick in picks.tolist():
        detail = details[pick]
        top = int(torch.randint(0, detail.shape[1] - side + 1, (), generator=gen))
        left = int(torch.randint(0, detail.shape[2] - side + 1, (), generator=gen))
        patches.append(detail[:, top : top + side, left : left + side])
    bank = torch.stack(patches)
    bank = bank - bank.mean(dim=(0, 2, 3), keepdim=True)
    return bank / (bank.std() + 1e-6)


def painting_contrast(paintings: Sequence[torch.Tensor], layout: MarkLayout) -> float:
    """The spread of the paintings' detail (each (3, H, W) in [0, 1], at the scale the style is
    trained on) at ``layout``'s sigma: the contrast of the painting's own marks."""
    total, count = 0.0, 0
    for image in paintings:
        detail = image - gaussian_blur(image[None], layout.sigma)[0]
        total += float(detail.square().sum())
        count += detail.numel()
    return math.sqrt(total / count)


def _at_least(image: torch.Tensor, side: int) -> torch.Tensor:
    """``image``, scaled up (bilinear) if a side is shorter than ``side``."""
    short = min(image.shape[1:])
    if short >= side:
        return image
    return F.interpolate(image[None], scale_factor=side / short, mode="bilinear",
                         align_corners=False)[0]


def turned_patches(bank: torch.Tensor, layout: MarkLayout) -> torch.Tensor:
    """(count * turns, C, window, window): every patch of ``bank`` turned, about its
    centre, so its strokes run at each of ``layout.turns`` angles over half a revolution
    (patch i at turn t is row i * turns + t); its own angle is its central window's
    ``flow_angle``. Bilinear resampling, recomputed per call (a few milliseconds), so a
    bank set by training or loaded from a file needs nothing else kept in step."""
    channels, side = bank.shape[1], bank.shape[-1]
    window, turns = layout.window, layout.turns
    inner = slice((side - window) // 2, (side + window) // 2)
    tensor = structure_tensor(luminance(bank[:, :, inner, inner]))
    own = flow_angle(tensor.mean(dim=(2, 3), keepdim=True))[:, 0, 0]  # (count,)
    targets = torch.arange(turns, dtype=bank.dtype, device=bank.device) * (math.pi / turns)
    # grid_sample reads the input at the rotated grid: a patch read at angle -d shows its
    # strokes turned by +d (image axes, y down).
    delta = (targets[None, :] - own[:, None]).reshape(-1)
    cos, sin = torch.cos(delta), torch.sin(delta)
    scale = window / side  # the output grid covers the central window of the patch
    theta = torch.stack([torch.stack([cos * scale, sin * scale, torch.zeros_like(cos)], -1),
                         torch.stack([-sin * scale, cos * scale, torch.zeros_like(cos)], -1)],
                        dim=1)
    grid = F.affine_grid(theta, [len(delta), channels, window, window], align_corners=False)
    source = bank.repeat_interleave(turns, dim=0)
    return F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)


def patch_marks(bank: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                layout: MarkLayout = FINE, turns: torch.Tensor | None = None) -> torch.Tensor:
    """(N, C, H, W) the bank's patches blended over a tile whose pixels have source
    coordinates ``rows`` (N, H) and ``cols`` (N, W) (tiles agree where they start on a
    vertex: at multiples of ``layout.cell``). Without ``turns`` ``bank`` is the stored
    (P, C, patch, patch); with ``turns`` (N, H/cell + 1, W/cell + 1), each vertex's turn
    (``strokes.flow_turns``), it is ``turned_patches``' table."""
    channels, cell = bank.shape[1], layout.cell
    n, height, width = len(rows), rows.shape[1], cols.shape[1]
    # Vertex positions: every cell-th pixel, and one past the end (its source position
    # extrapolated: it only matters at a non-seamless edge, where every pass agrees).
    v_rows = torch.cat([rows[:, ::cell], rows[:, -1:] + 1], dim=1)
    v_cols = torch.cat([cols[:, ::cell], cols[:, -1:] + 1], dim=1)
    picks = position_noise(v_rows, v_cols, 4, _ID_CHANNEL)  # (N, 4, H/cell+1, W/cell+1)
    count = len(bank) if turns is None else len(bank) // layout.turns
    ids = ((picks[:, 0] + 1) * (count / 2)).long().clamp_(0, count - 1)
    if turns is None:
        side = bank.shape[-1]
        mirrored = picks[:, 1] < 0
        places = side - layout.window + 1
        offsets = ((picks[:, 2:] + 1) * (places / 2)).long().clamp_(0, places - 1)
        # A mirrored window is read from the mirrored copy, which follows the originals
        # in the flat table, at the mirrored place: a mirror is just another patch.
        table = torch.cat([bank, bank.flip(-1)]).permute(0, 2, 3, 1).reshape(-1, channels)
        left = torch.where(mirrored, places - 1 - offsets[:, 1], offsets[:, 1])
        starts = (((ids + count * mirrored) * side + offsets[:, 0]) * side + left).int()
    else:  # a whole turned window per vertex: its patch by hash, its turn by the flow
        side = layout.window
        table = bank.permute(0, 2, 3, 1).reshape(-1, channels)
        starts = ((ids * layout.turns + turns) * side * side).int()
    return _blend(table, starts, n, height, width, cell, side)


def _blend(table: torch.Tensor, starts: torch.Tensor, n: int, height: int, width: int,
           cell: int, side: int) -> torch.Tensor:
    """(N, C, H, W): each vertex's window (rows of ``side``-wide patches in ``table``
    (pixels, C), from ``starts`` (N, H/cell + 1, W/cell + 1)) over the two cells round
    it, blended with its three neighbours' so the detail keeps its contrast."""
    channels = table.shape[1]
    cells_y, cells_x = starts.shape[1] - 1, starts.shape[2] - 1
    # Every run of ``cell`` pixels in the table as one row, so a cell's row of a window is
    # one gather (a gather per pixel took twice as long). The view reads the table's memory
    # as rows of ``channels``: a no-op ``contiguous`` makes sure it is laid out so.
    runs = table.contiguous().as_strided((len(table) - cell + 1, cell * channels),
                                         (channels, 1))
    local = torch.arange(cell, device=starts.device)
    frac = (local.float() + 0.5) / cell  # the far vertex's weight inside a cell
    corners = []
    for dy in (0, 1):
        for dx in (0, 1):
            # Squared tent weights: each patch stays whole near its vertex, short blends.
            weight = ((frac if dy else 1 - frac).view(-1, 1, 1, 1)
                      * (frac if dx else 1 - frac).view(1, 1, -1, 1)).square()
            inside = ((local + cell * (1 - dy)) * side).view(-1, 1) + cell * (1 - dx)
            # (N, cells_y, cell, cells_x): the runs in image order, so the gathered result
            # is the image with no reordering.
            index = starts[:, dy : dy + cells_y, None, dx : dx + cells_x] + inside
            corners.append((index, weight))
    # The contrast-preserving blend: sum of weight * patch over the root of sum weight^2.
    norm = sum(weight.square() for _, weight in corners).rsqrt_()
    total = None
    for index, weight in corners:
        part = runs.index_select(0, index.reshape(-1)).view(n, cells_y, cell, cells_x, cell,
                                                             channels)
        scale = weight * norm
        total = part.mul_(scale) if total is None else total.addcmul_(part, scale)
    # Channels-last (N, H, W, C) memory seen as (N, C, H, W), as the generator's planes;
    # cut to size where a side is not a multiple of the cell (training crops need only 8).
    total = total.view(n, cells_y * cell, cells_x * cell, channels).permute(0, 3, 1, 2)
    return total[:, :, :height, :width]
