"""Training losses: content, style (sliced Wasserstein and normalised Gram), adversarial, TV.

Lessons from the failed prototype shape these: style statistics are compared
per level after normalising by the style's own spread, so a few loud random
channels cannot dominate; the critic uses the hinge loss; the range penalty
replaces a saturating sigmoid.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

_LUMA = (0.299, 0.587, 0.114)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """(N,3,H,W) -> (N,1,H,W) Rec.601 luma."""
    w = x.new_tensor(_LUMA).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def _flat(feat: torch.Tensor) -> torch.Tensor:
    """(N,C,H,W) -> (N, H*W, C)."""
    return feat.flatten(2).transpose(1, 2)


def random_directions(channels: int, count: int, gen: torch.Generator, device) -> torch.Tensor:
    """``count`` random unit vectors in feature space, as a (C, count) matrix."""
    d = torch.randn(channels, count, generator=gen).to(device)
    return d / d.norm(dim=0, keepdim=True)


def sliced_wasserstein(
    feat: torch.Tensor, target: torch.Tensor, directions: torch.Tensor, samples: int = 2048
) -> torch.Tensor:
    """Squared 1-D Wasserstein distance of ``feat`` to ``target`` along each direction.

    Each image of the batch is compared with the target image of the same index
    (targets are style crops, so any pairing is fair). Projections are divided
    by the target's spread per direction: the loss is scale-free across levels.
    Large maps are compared on ``samples`` evenly strided positions (sorting is
    the cost); a target with another number of positions is resampled by quantile.
    """
    a = (_flat(feat) @ directions).transpose(1, 2)  # (N, P, positions): sort the last dim
    b = (_flat(target.detach()) @ directions).transpose(1, 2)
    a, b = _subsample(a, samples), _subsample(b, samples)
    scale = b.std(dim=2, keepdim=True).mean(dim=0, keepdim=True) + 1e-4
    a_sorted = torch.sort((a / scale).contiguous(), dim=2).values
    b_sorted = torch.sort((b / scale).contiguous(), dim=2).values
    if b_sorted.shape[2] != a_sorted.shape[2]:
        b_sorted = F.interpolate(b_sorted, size=a_sorted.shape[2], mode="linear",
                                 align_corners=True)
    return F.mse_loss(a_sorted, b_sorted)


def _subsample(x: torch.Tensor, samples: int) -> torch.Tensor:
    """Every k-th position of the last dim so at most about ``samples`` remain."""
    step = max(1, x.shape[2] // samples)
    return x[..., ::step] if step > 1 else x


def normalised_gram(feat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gram-matrix distance after standardising channels by the target's mean and std."""
    t = target.detach()
    mean = t.mean(dim=(0, 2, 3), keepdim=True)
    std = t.std(dim=(0, 2, 3), keepdim=True) + 1e-4

    def gram(x: torch.Tensor) -> torch.Tensor:
        f = ((x - mean) / std).flatten(2)
        return f @ f.transpose(1, 2) / f.shape[2]

    return F.mse_loss(gram(feat), gram(t).mean(dim=0, keepdim=True).expand_as(gram(feat)))


def content_loss(feats: list[torch.Tensor], targets: list[torch.Tensor]) -> torch.Tensor:
    """Feature MSE at the structural levels, each normalised by the input's own variance."""
    total = feats[0].new_zeros(())
    for f, t in zip(feats, targets, strict=True):
        t = t.detach()
        total = total + F.mse_loss(f, t) / (t.var() + 1e-4)
    return total


def colour_loss(output: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Distance of the blurred chroma: keeps the input's colours, lets luminance restyle."""

    def chroma(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x - luminance(x), 8)

    return F.mse_loss(chroma(output), chroma(source))


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbours: suppresses high-frequency speckle."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (
        x[..., :, 1:] - x[..., :, :-1]
    ).abs().mean()


def range_penalty(x: torch.Tensor) -> torch.Tensor:
    """Keeps the linear output inside [0, 1] without a saturating nonlinearity."""
    return (F.relu(x - 1.0) + F.relu(-x)).square().mean()


def hinge_critic(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Critic's hinge loss: real patches above +1, generated below -1."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def hinge_generator(fake: torch.Tensor) -> torch.Tensor:
    """Generator's side of the hinge game: raise the critic's score of its patches."""
    return -fake.mean()
