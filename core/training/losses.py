"""Training losses: style (patch and feature sliced Wasserstein), structure, adversarial, TV.

Every term is normalised so none dominates by its units (Cheng et al. 2021 trace
"only the dominant colour transferred" to unnormalised style losses): the style
terms divide by the style's own spread along each direction, the structure term
compares standardised luminance. The critic uses the hinge loss; the range
penalty replaces a saturating sigmoid.
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


def _some(x: torch.Tensor, count: int, gen: torch.Generator) -> torch.Tensor:
    """At most ``count`` random columns of a (rows, positions) matrix."""
    if x.shape[1] <= count:
        return x
    return x[:, torch.randperm(x.shape[1], generator=gen)[:count].to(x.device)]


def structure_loss(output: torch.Tensor, source: torch.Tensor,
                   sigmas: tuple[float, ...] = (1.0, 4.0)) -> torch.Tensor:
    """How far the output's luminance structure is from the input's, blind to tone.

    At each blur scale both luminances are standardised per image (mean 0, std 1)
    and compared: 2 * (1 - correlation). A global change of brightness, contrast or
    palette costs nothing, so the painting may recolour the texture freely, but
    planks, grain and UV-island borders must stay where they are. Blurring first
    leaves room for brush marks finer than the scale.
    """
    total = output.new_zeros(())
    lo, ls = luminance(output), luminance(source.detach())
    for sigma in sigmas:
        a, b = _standardise(gaussian_blur(lo, sigma)), _standardise(gaussian_blur(ls, sigma))
        total = total + (a - b).square().mean()
    return total / len(sigmas)


def _standardise(x: torch.Tensor) -> torch.Tensor:
    var, mean = torch.var_mean(x, dim=(1, 2, 3), keepdim=True, unbiased=False)
    return (x - mean) * torch.rsqrt(var + 1e-6)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with mirrored borders (any channel count)."""
    radius = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def patch_sliced_wasserstein(
    output: torch.Tensor, style: torch.Tensor, gen: torch.Generator,
    patch: int = 5, scales: int = 4, directions: int = 64, samples: int = 8192,
) -> torch.Tensor:
    """Sliced Wasserstein distance between the raw-pixel patch distributions of two
    batches, at ``scales`` octaves (GPDM, Elnekave & Weiss 2022).

    Every ``patch`` x ``patch`` colour patch is projected on random unit directions
    (one valid convolution); the sorted projections of output and style are compared,
    pooled over the batch (at most ``samples`` random positions of each side: sorting
    is the cost). Brush marks, their colours and their edges are patch
    statistics, so this is what carries strokes. Each direction's distance is divided
    by the style's variance along it, so every octave weighs the same. Octaves are
    made with 2x2 average pooling (a box filter before the decimation, no aliasing
    lattice).
    """
    total = output.new_zeros(())
    for octave in range(scales):
        if octave:
            output, style = F.avg_pool2d(output, 2), F.avg_pool2d(style, 2)
        if min(output.shape[-2:]) < patch or min(style.shape[-2:]) < patch:
            break
        w = torch.randn(directions, output.shape[1], patch, patch, generator=gen)
        w = (w / w.flatten(1).norm(dim=1).view(-1, 1, 1, 1)).to(output.device)
        a = _some(F.conv2d(output, w).transpose(0, 1).flatten(1), samples, gen)
        b = _some(F.conv2d(style.detach(), w).transpose(0, 1).flatten(1), samples, gen)
        a_sorted = torch.sort(a, dim=1).values
        b_sorted = torch.sort(b, dim=1).values
        if b_sorted.shape[1] != a_sorted.shape[1]:
            b_sorted = F.interpolate(b_sorted[None], size=a_sorted.shape[1], mode="linear",
                                     align_corners=True)[0]
        scale = b.var(dim=1, keepdim=True) + 1e-4
        total = total + ((a_sorted - b_sorted).square() / scale).mean()
    return total / scales


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
