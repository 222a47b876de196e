"""Brush-stroke fields: noise smeared along the texture's own flow (line integral convolution).

A network of small convolutions cannot draw a long, thin stroke: its marks are as round
as its receptive fields. Line integral convolution (Cabral and Leedom 1993), the classic
pencil-and-brush filter of non-photorealistic rendering, averages noise along a
direction field, so every pixel's noise is smeared into a streak a few pixels wide and
``2 * REACH`` long. Here the directions follow the input: along its edges and grain
(the minor eigenvector of the luminance structure tensor), and on flat ground, where
the texture has no direction of its own, a slowly turning field from coarse noise,
so plain areas get swirls. The generator's full-resolution convs read the streaks
as extra channels and learn how much of them each painting wants, and in what colour.

Streaks fade where the texture has fine detail of its own (``DETAIL_ENERGY``): over a
weave, brushed lines or pebbles they would lay a second texture on the first, and a
network of 3x3 convs cannot measure detail over a stroke's length to hold them back.
Faded there, the streaks' learned gain goes to flat ground, where marks are missing.
The generator also fades them over grain of a pixel or two (``grain_fade``), which that
fade misses.

Everything here is fixed (no weights) and keyed to source coordinates like the noise,
so tiles agree; it runs at half resolution and is upsampled, which keeps its cost small
and its kinks at period 2, away from the period-4 and period-8 lattice frequencies.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from .blur import gaussian_blur, luminance
from .noise import position_noise

#: Half-resolution pixels a stroke reaches either side of its centre (taps per side).
REACH = 4
#: Streak channels, each from its own noise.
STREAKS = 2
_TENSOR_SIGMA = 1.0  # quarter-resolution pixels
#: Local gradient energy at which streaks drop to half strength: the trace of the
#: luminance structure tensor (centred units per half-resolution pixel, squared), which
#: is about the square of the detail's contrast. The demo textures' medians are 0.005-0.017.
DETAIL_ENERGY = 1e-2
#: The energy of the luminance's finest band (sigma 1; centred units, smoothed) at which
#: the broad marks are halfway to their floor, the share they keep over the finest grain
#: (``grain_fade``). Held-out medians: brushed metal 2e-4, oak and table wood 6e-4 and
#: 1.1e-3, a teddy's fur 6e-4; a flat ground 0.
GRAIN_ENERGY = 1e-4
#: The floor: none. At half (restyle-gen11) the marks still hid the oak's and the table
#: wood's grain (held-out edge .23 and .56 under Starry). At a quarter (restyle-gen12 and
#: 13) they still painted over the brushed metal's lines and hid the oak's grain (edge .07
#: and .31 under Starry), and laid there by position they took the texture no nearer the
#: painting: without them both were nearer it. The fade is gentle (half at
#: ``GRAIN_ENERGY``), so grain that faint still takes a few marks.
GRAIN_FLOOR = 0.0
#: Full-resolution pixels ``grain_fade`` reads around a pixel: its two blurs.
GRAIN_RADIUS = 3 + 2 * (6 + 2)
#: Noise channels from here on are the strokes' (the generator's own come first).
_NOISE_CHANNELS = 1 << 10
#: How strongly the default swirl steers where the texture has directions of its own.
_SWIRL_WEIGHT = 1e-4
#: The swirl's noise is one value per 8x8 block, blurred over this many blocks (sigma),
#: then scaled to turn about one radian (standard deviation) across a swirl.
_SWIRL_BLOCK, _SWIRL_SIGMA, _SWIRL_TURN = 8, 2.0, 4 * math.pi
#: Full-resolution pixels the stroke field reads around a pixel: the swirl's blur, the
#: tensor's blur and the stroke's reach (the generator's context covers it).
STROKE_RADIUS = (_SWIRL_BLOCK * (3 * int(_SWIRL_SIGMA) + 1)
                 + 4 * (3 * int(_TENSOR_SIGMA) + 2) + 2 * (REACH + 1))


def stroke_field(centred: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                 gated: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, STREAKS, H, W) streaks for a centred input (N, 3, H, W), H and W multiples of
    8, whose source coordinates are ``rows`` (N, H) and ``cols`` (N, W); ``gated``: faded
    by the input's own detail (restyle-gen5 models were trained without). And (N, 1, H, W)
    that fade, the gate other marks share."""
    with torch.no_grad(), torch.autocast(centred.device.type, enabled=False):
        half = F.avg_pool2d(centred.float(), 2)
        luma = luminance(half)
        directions, energy = stroke_directions(luma, _swirl_tensor(rows, cols))
        noise = position_noise(rows[:, ::2], cols[:, ::2], STREAKS, _NOISE_CHANNELS)
        streaks = line_integral(noise, directions)
        gate = DETAIL_ENERGY / (energy + DETAIL_ENERGY)
        if gated:
            streaks.mul_(gate)
        both = F.interpolate(torch.cat([streaks, gate], dim=1), scale_factor=2,
                             mode="bilinear", align_corners=False)
        return both[:, :STREAKS], both[:, STREAKS:]


def _swirl_tensor(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """(N, 3, H/4, W/4) the structure tensor (xx, xy, yy) of strokes along a slowly
    turning angle: smoothed noise, one value per 8x8 block. A stroke along angle a has
    its gradient across it, so its tensor is that of (-sin a, cos a)."""
    coarse = position_noise(rows[:, ::_SWIRL_BLOCK], cols[:, ::_SWIRL_BLOCK], 1,
                            _NOISE_CHANNELS + STREAKS)
    angle = gaussian_blur(coarse, _SWIRL_SIGMA, "replicate") * _SWIRL_TURN
    cos2, sin2 = torch.cos(2 * angle), torch.sin(2 * angle)
    tensor = torch.cat([(1 - cos2) / 2, -sin2 / 2, (1 + cos2) / 2], dim=1)
    return F.interpolate(tensor, scale_factor=_SWIRL_BLOCK // 4, mode="bilinear",
                         align_corners=False)


def stroke_directions(luma: torch.Tensor,
                      swirl: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 2, h, w) unit (dx, dy) along the edges of ``luma`` (N, 1, h, w): the minor
    eigenvector of its smoothed structure tensor; and (N, 1, h, w) the tensor's trace,
    the local gradient energy. ``swirl`` (N, 3, h/2, w/2), a tensor of its own, enters
    weakly: it decides only where the texture's gradients vanish.
    The tensor is smoothed at half ``luma``'s resolution (a smooth field; a blur at
    full size cost most of the strokes' time) and brought back up."""
    tensor = F.avg_pool2d(structure_tensor(luma), 2)
    tensor = gaussian_blur(tensor.add_(swirl, alpha=_SWIRL_WEIGHT), _TENSOR_SIGMA,
                           "replicate")
    jxx, jxy, jyy = F.interpolate(tensor, scale_factor=2, mode="bilinear",
                                  align_corners=False).unbind(1)
    # The gradient's orientation t from its double angle, by half-angle formulas (no
    # trigonometry: this runs on every pixel): cos 2t = (jxx - jyy) / r.
    diff = jxx - jyy
    cos2 = diff * torch.rsqrt(diff.square() + 4 * jxy.square() + 1e-20)
    cos_t = ((1 + cos2) / 2).clamp_min(0).sqrt()
    sin_t = ((1 - cos2) / 2).clamp_min(0).sqrt() * torch.where(jxy >= 0, 1.0, -1.0)
    return torch.stack([-sin_t, cos_t], dim=1), (jxx + jyy)[:, None]


def grain_fade(centred: torch.Tensor, floor: float = GRAIN_FLOOR) -> torch.Tensor:
    """(N, 1, H, W): 1 on flat ground, falling to ``floor`` over a texture's finest
    grain, for a centred input (N, 3, H, W; H, W multiples of 8). The broad marks and the
    streaks fade by it: ``DETAIL_ENERGY``'s fade, at half resolution, does not see grain
    of a pixel or two (brushed lines, wood grain, fur), which they painted over. The
    energy is that of the luminance's sigma-1 band, smoothed at half resolution (sigma 2
    there)."""
    with torch.no_grad(), torch.autocast(centred.device.type, enabled=False):
        luma = luminance(centred.float())
        band = luma - gaussian_blur(luma, 1.0, "replicate")
        energy = gaussian_blur(F.avg_pool2d(band.square_(), 2), 2.0, "replicate")
        fade = (energy * floor + GRAIN_ENERGY) / (energy + GRAIN_ENERGY)
        return F.interpolate(fade, scale_factor=2, mode="bilinear", align_corners=False)


def flow_turns(centred: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, cell: int,
               turns: int) -> torch.Tensor:
    """(N, H/cell + 1, W/cell + 1) int64: at every ``cell``-th pixel of a centred input
    (N, 3, H, W; H, W multiples of 8) and one past the end, the nearest of ``turns``
    angles over half a revolution to the texture's flow there (its luminance structure
    tensor at 1/4 resolution, smoothed over about a cell; on flat ground the slowly
    turning swirl of ``stroke_field``). The painting's marks are turned to it."""
    with torch.no_grad(), torch.autocast(centred.device.type, enabled=False):
        quarter = luminance(F.avg_pool2d(centred.float(), 4))
        tensor = structure_tensor(quarter).add_(_swirl_tensor(rows, cols), alpha=_SWIRL_WEIGHT)
        tensor = gaussian_blur(tensor, cell / 8, "replicate")
        step = cell // 4
        ys = (torch.arange(-(-rows.shape[1] // cell) + 1, device=centred.device) * step
              ).clamp_(max=tensor.shape[2] - 1)
        xs = (torch.arange(-(-cols.shape[1] // cell) + 1, device=centred.device) * step
              ).clamp_(max=tensor.shape[3] - 1)
        angle = flow_angle(tensor[:, :, ys][:, :, :, xs])
        return (angle * (turns / math.pi)).round_().long().remainder_(turns)


def flow_reach(cell: int) -> int:
    """Full-resolution pixels ``flow_turns`` and the turned marks read around a pixel:
    its vertices a cell away, the tensor's blur and gradient at 1/4 resolution."""
    return cell + 4 * (int(3 * cell / 8 + 0.5) + 2)


def flow_angle(tensor: torch.Tensor) -> torch.Tensor:
    """The angle (radians, 0..pi, image axes: x right, y down) along which strokes run,
    from a smoothed luminance structure tensor (..., 3, ...) = (xx, xy, yy) in dim -3:
    across the gradient's mean orientation."""
    jxx, jxy, jyy = tensor.unbind(-3)
    return (0.5 * torch.atan2(2 * jxy, jxx - jyy) + math.pi / 2).remainder(math.pi)


def structure_tensor(luma: torch.Tensor) -> torch.Tensor:
    """(N, 3, h, w) the unsmoothed structure tensor (xx, xy, yy) of ``luma`` (N, 1, h, w)."""
    gy, gx = torch.gradient(luma, dim=(2, 3))
    return torch.cat([gx * gx, gx * gy, gy * gy], dim=1)


def line_integral(noise: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """``noise`` (N, C, h, w) averaged along ``directions`` over ``2 * REACH + 1`` taps,
    tapered (a triangle) so strokes fade at their ends; scaled back to about the noise's
    own spread."""
    n, _, h, w = noise.shape
    ys = torch.linspace(-1.0, 1.0, h, device=noise.device)
    xs = torch.linspace(-1.0, 1.0, w, device=noise.device)
    base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).expand(n, h, w, 2)
    # One pixel in grid_sample's normalised units (align_corners: the ends are centres).
    step = directions.permute(0, 2, 3, 1) * directions.new_tensor(
        [2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)])
    total = torch.zeros_like(noise)
    weights = [REACH + 1 - abs(t) for t in range(-REACH, REACH + 1)]
    for t, weight in zip(range(-REACH, REACH + 1), weights, strict=True):
        sample = F.grid_sample(noise, base + t * step, mode="bilinear",
                               padding_mode="border", align_corners=True)
        total.add_(sample, alpha=weight)
    return total.mul_(1.0 / math.sqrt(sum(x * x for x in weights)))
