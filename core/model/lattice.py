"""The notch that keeps the generator's residual off the lattice frequencies
``bench/metrics.py`` measures: periods 4 and 8 along rows, columns and both diagonals.

Noise holds energy at every frequency. Over a texture with little fine detail of its own
across its grain (a JPEG oak) the marks' and streaks' energy alone lifted the lattice
peak 1.5-2.2x the input's, by chance of where the marks fell. Notching the noise before
the full-resolution convs took the median to 1.1, but their ReLUs mix frequencies and put
some back (1.6 at an unlucky placement), and it dulled the marks. So the residual itself
is notched, at just those points of its spectrum.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from .blur import gaussian_blur

#: The lattice: these periods in pixels, along each of these directions (down, across).
LATTICE_PERIODS = (4, 8)
LATTICE_DIRECTIONS = ((1, 0), (0, 1), (1, 1), (1, -1))
#: The lattice frequencies (cycles per pixel down, across) ``point_notch`` removes.
LATTICE_FREQUENCIES = tuple((dy / period, dx / period) for period in LATTICE_PERIODS
                            for dy, dx in LATTICE_DIRECTIONS)
#: Every lattice frequency repeats within this many pixels: one demodulated value a block.
_BLOCK = 8
#: The blocks' smoothing (in blocks): the notch's width, about 0.016 cycles per pixel.
_SMOOTH_SIGMA = 1.25
_SMOOTH_RADIUS = 4  # ``gaussian_blur``'s reach at that sigma
#: Pixels ``point_notch`` reads either side: half a tent in, the smoothing, a tent out.
POINT_NOTCH_RADIUS = _BLOCK * (_SMOOTH_RADIUS + 2) + _BLOCK // 2


def _carriers(offset: int, size: int) -> torch.Tensor:
    """(2K, size, size) cosines then sines of every lattice frequency at pixel
    ``offset + (row, column)`` of a block."""
    t = torch.arange(size, dtype=torch.float64) + offset
    phases = torch.stack([2 * math.pi * (fy * t[:, None] + fx * t[None, :])
                          for fy, fx in LATTICE_FREQUENCIES])
    return torch.cat([phases.cos(), phases.sin()]).float()


# A tent two blocks wide around each block's centre, in and out: demodulating through it
# (not a box) keeps the energy beside other multiples of 1/8 from aliasing into the
# band, and putting back through it is bilinear between block centres. Out, the
# carrier is doubled for the conjugate frequency.
_TENT = 1 - (torch.arange(2 * _BLOCK) - (_BLOCK - 0.5)).abs() / _BLOCK
_WINDOW = _carriers(-_BLOCK // 2, 2 * _BLOCK) * _TENT[:, None] * _TENT[None, :]
_ANALYSIS = _WINDOW / _BLOCK**2
# Out, as one product: each block of the result sums the four tent quadrants that overlap
# it, one from itself and its upper and left neighbours' (rows: the quadrant of the four
# and its carrier; columns: the block's 8x8 pixels). A strided transposed conv took 3x as
# long.
_SYNTHESIS = (2 * _WINDOW).view(-1, 2, _BLOCK, 2, _BLOCK).permute(1, 3, 0, 2, 4).reshape(
    -1, _BLOCK * _BLOCK)


def point_notch(x: torch.Tensor) -> torch.Tensor:
    """``x`` (N, C, H, W) without its energy within ~0.03 cycles per pixel of each
    lattice frequency: 2% of the spectrum, so strokes keep their edges.

    Each 8x8 block's content at every lattice frequency (demodulated through a tent),
    smoothed over neighbouring blocks, is modulated back (bilinear between block centres)
    and subtracted. Blocks sit on the pixel grid's multiples of 8, so a tile that starts
    on one computes what the whole image does.
    """
    c, h, w = x.shape[1:]
    half = _BLOCK // 2
    dtype, x = x.dtype, x.float()  # one fp32 copy (none when it is fp32 already)
    with torch.autocast(x.device.type, enabled=False):
        # Half a tent beyond each edge, and the far edges out to whole blocks.
        padded = F.pad(x, (half, half + -w % _BLOCK, half, half + -h % _BLOCK),
                       mode="replicate")
        analysis = _ANALYSIS.to(x.device).repeat(c, 1, 1)[:, None]
        bands = F.conv2d(padded, analysis, stride=_BLOCK, groups=c)
        bands = gaussian_blur(bands, _SMOOTH_SIGMA, padding="replicate")
        bands = F.pad(bands, (1, 1, 1, 1), mode="replicate")
        return (x - _put_back(bands, c)[..., half : half + h, half : half + w]).to(dtype)


def _put_back(bands: torch.Tensor, channels: int) -> torch.Tensor:
    """The blocks' smoothed bands (N, channels * K, by, bx; one block of replicated padding
    round them) modulated back through the tent: (N, channels, 8 (by - 1), 8 (bx - 1)),
    whose first pixel lies half a block before the image's first."""
    n, _, rows, cols = bands.shape
    bands = bands.view(n, channels, -1, rows, cols)
    quadrants = torch.cat([bands[:, :, :, 1 - dy : rows - dy, 1 - dx : cols - dx]
                           for dy in (0, 1) for dx in (0, 1)], dim=2)
    blocks = torch.einsum("ncqyx,qp->ncyxp", quadrants, _SYNTHESIS.to(bands.device))
    blocks = blocks.view(n, channels, rows - 1, cols - 1, _BLOCK, _BLOCK)
    return blocks.permute(0, 1, 2, 4, 3, 5).reshape(n, channels, (rows - 1) * _BLOCK, -1)
