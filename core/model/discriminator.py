"""PatchGAN critic: scores every ~40 px patch as "painted like the style" or not.

Spectral norm on every conv keeps it Lipschitz, so it cannot win early and blow
the generator into saturated blobs (a failure seen in the prototype). It
downsamples by blurring before decimating (a binomial filter, then stride 2),
never with strided kernels: a strided critic's gradients carry a checkerboard
that the generator would learn to paint.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm


def _sn_conv(cin: int, cout: int) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, 3, padding=1))


class BlurDown(nn.Module):
    """Anti-aliased 2x downsampling: a 3x3 binomial blur, then every second pixel."""

    def __init__(self) -> None:
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("kernel", (k[:, None] * k[None, :] / 16).view(1, 1, 3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        return F.conv2d(x, self.kernel.expand(c, 1, 3, 3), stride=2, groups=c)


class PatchDiscriminator(nn.Module):
    """Fully convolutional critic returning one logit per patch (hinge loss)."""

    def __init__(self, width: int = 32, levels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for level in range(levels):
            cout = width * 2**level
            layers += [_sn_conv(cin, cout), nn.LeakyReLU(0.2, inplace=True), BlurDown()]
            cin = cout
        layers += [_sn_conv(cin, cin), nn.LeakyReLU(0.2, inplace=True), _sn_conv(cin, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2.0 - 1.0)
