"""PatchGAN critic: scores every ~40 px patch as "painted like the style" or not.

The feature losses carry colour and blob statistics; this critic, trained on
style-image crops against generator outputs, is what pushes stroke structure.
Spectral norm on every conv keeps it Lipschitz, so it cannot win early and
blow the generator into saturated blobs (a failure seen in the prototype).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _sn_conv(cin: int, cout: int, stride: int) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, 4 if stride == 2 else 3, stride, padding=1))


class PatchDiscriminator(nn.Module):
    """Fully convolutional critic returning one logit per patch (hinge loss)."""

    def __init__(self, width: int = 32, levels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for level in range(levels):
            cout = width * 2**level
            layers += [_sn_conv(cin, cout, 2), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        layers += [_sn_conv(cin, cin, 1), nn.LeakyReLU(0.2, inplace=True), _sn_conv(cin, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2.0 - 1.0)
