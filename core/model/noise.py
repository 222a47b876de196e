"""Noise keyed to source-image coordinates: the same pixel gets the same noise in any tile.

A network of convolutions maps flat ground to flat ground; noise inputs let it paint
marks there. Drawn from a random generator, the noise would differ between tiles, runs
and the two sides of a seamless border; as a hash of the pixel's row and column in the
source image it is fixed, so tiled equals untiled and seamless stays seamless.
"""

from __future__ import annotations

import torch

#: (rows, cols): the source image's row and column index of every input row and column,
#: (N, H) and (N, W) int64. Tiles read across seamless borders, so they are not ranges.
Coords = tuple[torch.Tensor, torch.Tensor]
#: Odd 32-bit constants that mix row, column and channel into one hash key.
_ROW_KEY, _COL_KEY, _CHANNEL_KEY, _MIX = 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x45D9F3B
_LOW32 = 0xFFFFFFFF


def grid_coords(batch: int, height: int, width: int,
                origin: torch.Tensor | None = None) -> Coords:
    """Coordinates of plain (N, H, W) crops whose top-left corners are ``origin`` (N, 2)."""
    rows = torch.arange(height).expand(batch, height)
    cols = torch.arange(width).expand(batch, width)
    if origin is None:
        return rows, cols
    return rows + origin[:, :1], cols + origin[:, 1:]


def position_noise(rows: torch.Tensor, cols: torch.Tensor, channels: int,
                   first: int = 0) -> torch.Tensor:
    """(N, channels, h, w) uniform noise in [-1, 1), a hash of (row, column, channel),
    channels numbered from ``first`` (each use of the noise takes channels of its own).

    An integer hash (two multiply-xorshift rounds on 32 bits), not a random generator:
    any crop of the image gets exactly the noise the whole image has there.
    """
    key = (rows[:, None, :, None] * _ROW_KEY + cols[:, None, None, :] * _COL_KEY
           + torch.arange(first, first + channels, device=rows.device).view(1, -1, 1, 1)
           * _CHANNEL_KEY)
    v = key & _LOW32
    for _ in range(2):
        v = (((v >> 16) ^ v) * _MIX) & _LOW32
    v = (v >> 16) ^ v
    return v.float().mul_(2.0 / 2**32).sub_(1.0)
