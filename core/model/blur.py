"""Image filters the generator and the training losses share: luma and a Gaussian blur."""

from __future__ import annotations

import torch
from torch.nn import functional as F

#: Rec.601 luma weights of R, G, B.
LUMA = (0.299, 0.587, 0.114)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 1, H, W) Rec.601 luma, as a sum of slices: a product and a sum
    over channels took 5x as long on channels-last input (5.5 ms at 1024^2)."""
    red, green, blue = LUMA
    return (x[:, 0:1] * red).add_(x[:, 1:2], alpha=green).add_(x[:, 2:3], alpha=blue)


#: Up to this many channels in a plain layout ``gaussian_blur`` sums shifted slices:
#: oneDNN's depthwise conv took 15x as long on one 1024^2 channel (52 ms, the broad marks'
#: grain fade), 2.7x on three at 512^2. On more channels, or channels-last, the conv won.
SHIFTED_BLUR_CHANNELS = 3


def gaussian_blur(x: torch.Tensor, sigma: float, padding: str = "reflect") -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), any channel count; ``padding`` is
    ``F.pad``'s mode at the borders (mirrored by default)."""
    radius = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode=padding)
    if c <= SHIFTED_BLUR_CHANNELS and x.is_contiguous():
        taps = k.tolist()
        return _shifted_sum(_shifted_sum(x, taps, -1), taps, -2)
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _shifted_sum(x: torch.Tensor, taps: list[float], dim: int) -> torch.Tensor:
    """The 1-D filter ``taps`` along ``dim``, without padding: a weighted sum of slices."""
    size = x.shape[dim] - len(taps) + 1
    out = x.narrow(dim, 0, size) * taps[0]
    for i, tap in enumerate(taps[1:], start=1):
        out.add_(x.narrow(dim, i, size), alpha=tap)
    return out


def upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear ``factor``x (zero response at the coarse grid's lattice frequencies)."""
    # From a plain (NCHW) layout: torch's channels-last bilinear kernel took 2.5x as
    # long on these three-channel residuals.
    return F.interpolate(x.contiguous(), scale_factor=factor, mode="bilinear",
                         align_corners=False)


def binomial(x: torch.Tensor) -> torch.Tensor:
    """Separable [1, 2, 1] / 4 blur (replicated borders): zero response at Nyquist.

    In fp32 outside autocast, like the generator's input blur (oneDNN's bf16
    channels-last depthwise path raised an 8192^2 stylize's peak by 130 MB), and by
    slicing: as depthwise convolutions it took 10-18x as long on plain-layout tensors.
    """
    with torch.autocast(x.device.type, enabled=False):
        p = F.pad(x.float(), (1, 1, 1, 1), mode="replicate")
        p = p[..., :-2] + 2 * p[..., 1:-1] + p[..., 2:]
        return (p[..., :-2, :] + 2 * p[..., 1:-1, :] + p[..., 2:, :]) * (1 / 16)
