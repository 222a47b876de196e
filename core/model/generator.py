"""The feed-forward stylizer network, shaped for CPU speed.

Almost all compute runs at 1/4 and 1/8 of the input resolution: the image is
folded into channels by space-to-depth (``pixel_unshuffle``), processed by
small residual blocks, and unfolded with ``pixel_shuffle`` (no transposed
convolutions, so no checkerboards). The output is a linear residual added to
the input, so nothing saturates the way a sigmoid head does and an untrained
network starts as the identity. Every norm is a ``TileNorm`` so tiled
inference can share one image's statistics.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .norm import TileNorm

ARCH_TYPE = "restyle-gen"
PADDING_MODES = ("zeros", "reflect", "circular")


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


class _ConvNorm(nn.Sequential):
    """conv, TileNorm, ReLU: the unit every stage is made of."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__(_conv(cin, cout, 3, stride), TileNorm(cout), nn.ReLU(inplace=True))


class _ResBlock(nn.Module):
    """Two 3x3 convs with a skip: depth (receptive field) without losing the signal."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(channels, channels), TileNorm(channels), nn.ReLU(inplace=True),
            _conv(channels, channels), TileNorm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """Image (N,3,H,W in [0,1]) to stylized image of the same size; H, W multiples of 8."""

    def __init__(
        self, width: int = 64, deep_width: int = 128, blocks: int = 4, detail: int = 8
    ) -> None:
        super().__init__()
        self.arch = {"type": ARCH_TYPE, "width": width, "deep_width": deep_width,
                     "blocks": blocks, "detail": detail}
        self.multiple = 8
        # Receptive radius in input pixels: each 3x3 conv at 1/s resolution reaches s pixels
        # (stem, down, merge, head at 1/4; two per block at 1/8), plus one 8x8 block because
        # a pixel sees its whole space-to-depth block, plus 1 for the full-resolution conv.
        radius = 4 * 4 + 8 * 2 * blocks + 8 + 1
        self.context = -(-radius // self.multiple) * self.multiple
        self.stem = _ConvNorm(3 * 16, width)  # at 1/4
        self.down = _ConvNorm(width, deep_width, stride=2)  # to 1/8
        self.blocks = nn.Sequential(*[_ResBlock(deep_width) for _ in range(blocks)])
        self.up = nn.Conv2d(deep_width, width * 4, 1)  # pixel_shuffle(2) back to 1/4
        self.merge = _ConvNorm(width * 2, width)  # upsampled deep path + stem skip
        self.to_detail = _conv(width, detail * 16)  # pixel_shuffle(4) to full resolution
        # The one full-resolution conv blends across the 4x4 blocks of the shuffle, which
        # would otherwise show as a grid, and gives the RGB residual.
        self.head = _conv(detail, 3)
        nn.init.zeros_(self.head.weight)  # start as the identity
        nn.init.zeros_(self.head.bias)

    def set_padding(self, mode: str) -> None:
        """Padding of every conv: "circular" keeps tileable textures tileable."""
        if mode not in PADDING_MODES:
            raise ValueError(f"padding mode must be one of {PADDING_MODES}, not {mode!r}")
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                module.padding_mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stem = self.stem(F.pixel_unshuffle(x * 2.0 - 1.0, 4))
        deep = self.blocks(self.down(stem))
        up = F.relu(F.pixel_shuffle(self.up(deep), 2))
        merged = self.merge(torch.cat([up, stem], dim=1))
        detail = F.relu(F.pixel_shuffle(self.to_detail(merged), 4))
        return x + self.head(detail)


def build_generator(**arch: object) -> Generator:
    """Rebuild a generator from its ``arch`` dict (as stored in model.json)."""
    kwargs = {k: v for k, v in arch.items() if k != "type"}
    kind = arch.get("type", ARCH_TYPE)
    if kind != ARCH_TYPE:
        raise ValueError(f"unknown generator type {kind!r}; expected {ARCH_TYPE!r}")
    return Generator(**kwargs)  # type: ignore[arg-type]
