"""The reference network benchmarks compare against: Johnson et al. 2016's transformer.

9x9 conv to 32; stride-2 3x3 convs to 64 and 128; five residual blocks of 128;
two nearest-x2-upsample-then-conv layers; 9x9 conv to RGB; instance norm. Built
here (untrained; speed does not depend on the weights) so speed tables can
measure it in the same process, on the same input, as our generator.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _layer(cin: int, cout: int, k: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    parts: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, padding_mode="reflect"),
        nn.InstanceNorm2d(cout, affine=True),
    ]
    if relu:
        parts.append(nn.ReLU(inplace=True))
    return nn.Sequential(*parts)


class _Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _layer(channels, channels, 3), _layer(channels, channels, 3, relu=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _Upsample(nn.Module):
    """Nearest x2 then conv: the resize-convolution of the reference."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = _layer(cin, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class JohnsonNet(nn.Module):
    """Johnson et al. 2016 image transformation network (reference for speed only)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            _layer(3, 32, 9),
            _layer(32, 64, 3, stride=2),
            _layer(64, 128, 3, stride=2),
            *[_Residual(128) for _ in range(5)],
            _Upsample(128, 64),
            _Upsample(64, 32),
            nn.Conv2d(32, 3, 9, padding=4, padding_mode="reflect"),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
