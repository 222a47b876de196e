"""Quality metrics the training never sees: style distance, content keeping, lattice energy.

Style distance: sliced Wasserstein distance (unsquared) between features of an
independent random CNN (other seed, other shape than training's: 7x7/5x5
kernels, max-pooling, leaky ReLU) of the output and of the style image, both
whitened per channel first, so matching colours alone earns nothing: only
structure (strokes, blobs, edges) moves the number.
Content keeping: SSIM of blurred luminance, and the correlation of Sobel edge
magnitudes of slightly blurred luminance, between input and output.
Lattice ratio: the luminance spectrum's power at the period-4 and period-8
lattice frequencies over the median power around them; a generator that draws
a grid scores far above its input.
Halo: beside the input's strong edges, on a side where the input is flat for 12 px,
how much the output still changes 3-8 px out, averaged along the edges (so painted
marks cancel and a rim or glow, which keeps its sign, stays), relative to the step
the output keeps; a rim or glow along silhouettes and lines scores high.
Ground tint: on a flat ground round a figure (a cut-out on white, a ball's panels), how
far the output's mean colour 3-24 px from the figure is from its mean beyond 32 px: the
broad glow a coarse level paints round a silhouette, which the halo's 3-8 px miss.
Used by ``bench/quality.py`` and by the lattice test (``tests/core``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

_LUMA = (0.299, 0.587, 0.114)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """(3,H,W) -> (1,H,W) Rec.601 luma."""
    return (x * x.new_tensor(_LUMA).view(3, 1, 1)).sum(dim=0, keepdim=True)


class MetricNet(nn.Module):
    """Independent random CNN for the metric (seed and shape differ from training's)."""

    def __init__(self, seed: int = 4242, widths: tuple[int, ...] = (24, 48, 96, 96)) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.convs = nn.ModuleList()
        cin = 3
        for level, cout in enumerate(widths):
            k = 7 if level == 0 else 5
            conv = nn.Conv2d(cin, cout, k, padding=k // 2, padding_mode="reflect")
            w = torch.randn(cout, cin, k, k, generator=gen)
            conv.weight.data.copy_(w / (cin * k * k) ** 0.5)
            conv.bias.data.uniform_(-0.5, 0.5, generator=gen)
            self.convs.append(conv)
            cin = cout
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats, h = [], x
        for level, conv in enumerate(self.convs):
            if level:
                h = F.max_pool2d(h, 2)
            h = F.leaky_relu(conv(h), 0.1)
            feats.append(h)
        return feats


def whiten(x: torch.Tensor) -> torch.Tensor:
    """Per-channel zero mean, unit std: removes colour and contrast, keeps structure."""
    mean = x.mean(dim=(-2, -1), keepdim=True)
    std = x.std(dim=(-2, -1), keepdim=True) + 1e-5
    return (x - mean) / std


def _quantiles(feat: torch.Tensor, dirs: torch.Tensor, count: int = 256) -> torch.Tensor:
    proj = feat[0].flatten(1).T @ dirs  # (HW, P)
    q = torch.linspace(0, 1, count)
    return torch.quantile(proj[torch.randperm(proj.shape[0])[:20_000]], q, dim=0)


@torch.no_grad()
def style_distance(net: MetricNet, image: torch.Tensor, style: torch.Tensor) -> float:
    """Mean over levels of the sliced W2 distance (not squared), in units of the style's
    spread along each direction."""
    torch.manual_seed(0)
    total = 0.0
    fi, fs = net(whiten(image)[None]), net(whiten(style)[None])
    for a, b in zip(fi, fs, strict=True):
        dirs = torch.randn(a.shape[1], 64)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        qa, qb = _quantiles(a, dirs), _quantiles(b, dirs)
        total += float((((qa - qb) ** 2).mean() / (qb.var(dim=0).mean() + 1e-8)).sqrt())
    return total / len(fi)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a (1,H,W) image, mirrored borders."""
    radius = int(3 * sigma)
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    x = F.pad(x[None], (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    return F.conv2d(x, k.view(1, 1, -1, 1))[0]


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM (Gaussian window, sigma 1.5) of two (1,H,W) images in [0,1]."""
    c1, c2 = 0.01**2, 0.03**2
    ma, mb = blur(a, 1.5), blur(b, 1.5)
    va = blur(a * a, 1.5) - ma**2
    vb = blur(b * b, 1.5) - mb**2
    cov = blur(a * b, 1.5) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return float(s.mean())


def sobel(x: torch.Tensor) -> torch.Tensor:
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3)
    xp = F.pad(x[None], (1, 1, 1, 1), mode="reflect")
    gx, gy = F.conv2d(xp, kx), F.conv2d(xp, kx.transpose(2, 3))
    return (gx**2 + gy**2).sqrt()[0]


def edge_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of Sobel magnitudes of slightly blurred luminance."""
    ea, eb = sobel(blur(a, 1.0)).flatten(), sobel(blur(b, 1.0)).flatten()
    ea, eb = ea - ea.mean(), eb - eb.mean()
    return float((ea * eb).sum() / (ea.norm() * eb.norm() + 1e-8))


def content_scores(src: torch.Tensor, out: torch.Tensor) -> tuple[float, float]:
    """(SSIM of blurred luminance, edge correlation) of output against input, (3,H,W) each."""
    la, lb = luminance(src), luminance(out)
    return ssim(blur(la, 2.0), blur(lb, 2.0)), edge_correlation(la, lb)


def colour_transfer(src: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Baseline: per-channel mean/std of the input moved to the style's."""
    ms, ss = style.mean(dim=(1, 2), keepdim=True), style.std(dim=(1, 2), keepdim=True)
    mi, si = src.mean(dim=(1, 2), keepdim=True), src.std(dim=(1, 2), keepdim=True)
    return ((src - mi) / (si + 1e-5) * ss + ms).clamp(0, 1)


def lattice_ratio(rgb: np.ndarray) -> float:
    """Largest ratio, over the lattice frequencies (H/4, W/4, H/8, W/8 and the diagonals),
    of the peak spectral power there (3x3 bins) to the median power of the bins around it
    (an 11x11 window without its centre). An (H, W, 3) or (H, W) image in 0..1."""
    lum = rgb @ np.array(_LUMA, np.float32) if rgb.ndim == 3 else rgb
    lum = lum.astype(np.float64) - lum.mean()
    h, w = lum.shape
    window = np.hanning(h)[:, None] * np.hanning(w)[None, :]
    power = np.abs(np.fft.fft2(lum * window)) ** 2
    worst = 0.0
    for period in (4, 8):
        fy, fx = h / period, w / period
        for ky, kx in ((fy, 0), (0, fx), (fy, fx), (fy, -fx)):
            cy, cx = round(ky), round(kx)
            ys = np.arange(cy - 5, cy + 6) % h
            xs = np.arange(cx - 5, cx + 6) % w
            patch = power[np.ix_(ys, xs)]
            ring = np.ones_like(patch, bool)
            ring[4:7, 4:7] = False
            worst = max(worst, float(patch[4:7, 4:7].max() / (np.median(patch[ring]) + 1e-20)))
    return worst


_HALO_NEAR = (3, 4, 5, 6, 7, 8)
_HALO_FAR = 12


@torch.no_grad()
def halo_score(src: torch.Tensor, out: torch.Tensor, samples: int = 4000) -> float | None:
    """On the flat sides of the input's strong edges, the output's luminance change 3-8 px
    beside the edge (against its value 12 px out), signed by the edge's direction and
    averaged over the edge's points, relative to the output's mean step across it. None
    when the input has no such edge (busy or soft textures).
    ``src`` and ``out`` are (3,H,W) in 0..1."""
    lum_in, lum_out = luminance(src), luminance(out.clamp(0, 1))
    smooth = blur(lum_in, 1.0)
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3) / 8
    padded = F.pad(smooth[None], (1, 1, 1, 1), mode="reflect")
    gx, gy = F.conv2d(padded, kx)[0, 0], F.conv2d(padded, kx.transpose(2, 3))[0, 0]
    magnitude = (gx**2 + gy**2).sqrt()
    h, w = magnitude.shape
    margin = _HALO_FAR + 2
    inner = torch.zeros_like(magnitude, dtype=torch.bool)
    inner[margin : h - margin, margin : w - margin] = True
    # Local maxima of a strong gradient (edge centres), well inside the image.
    peak = magnitude == F.max_pool2d(magnitude[None, None], 3, 1, 1)[0, 0]
    ys, xs = torch.nonzero(inner & peak & (magnitude > 0.05), as_tuple=True)
    if len(ys) == 0:
        return None
    pick = torch.randperm(len(ys), generator=torch.Generator().manual_seed(0))[:samples]
    ys, xs = ys[pick].float(), xs[pick].float()
    nx, ny = gx[ys.long(), xs.long()], gy[ys.long(), xs.long()]
    norm = (nx**2 + ny**2).sqrt()
    nx, ny = nx / norm, ny / norm
    offsets = torch.tensor([-_HALO_FAR, *(-d for d in _HALO_NEAR), *_HALO_NEAR, _HALO_FAR],
                           dtype=torch.float32)
    px = xs[:, None] + nx[:, None] * offsets[None]
    py = ys[:, None] + ny[:, None] * offsets[None]
    grid = torch.stack([px / (w - 1) * 2 - 1, py / (h - 1) * 2 - 1], dim=-1)[None]

    def profile(image: torch.Tensor) -> torch.Tensor:
        return F.grid_sample(image[None], grid, align_corners=True)[0, 0]

    p_in, p_out = profile(lum_in), profile(lum_out)
    near = len(_HALO_NEAR)
    rise = p_in[:, -1] - p_in[:, 0]
    # The output's change beside the edge, signed by the input's step: a rim or glow has
    # one sign along an edge and survives the mean, painted marks average out.
    polarity = rise.sign()[:, None]
    profiles = []
    for band, far in ((slice(1, 1 + near), 0), (slice(1 + near, 1 + 2 * near), -1)):
        # A side counts where the input is flat (within 0.03) from 3 px to 12 px out.
        flat = (p_in[:, band] - p_in[:, far, None]).abs().amax(dim=1) < 0.03
        keep = flat & (rise.abs() > 0.1)
        if keep.sum() >= 20:
            change = (p_out[keep, band] - p_out[keep, far, None]) * polarity[keep]
            step = ((p_out[keep, -1] - p_out[keep, 0]) * polarity[keep, 0]).mean()
            profiles.append(change.mean(dim=0).abs().mean() / (step.abs() + 0.05))
    return float(torch.stack(profiles).mean()) if profiles else None


#: A ground pixel's input varies less than this over its 5x5 neighbourhood, per channel ...
_GROUND_FLAT = 0.02
#: ... and lies this close (RGB distance) to the ground's colour.
_GROUND_SAME = 0.04
#: Near ground: this many pixels from the figure; far ground: beyond ``_GROUND_FAR``.
_GROUND_NEAR = (3, 24)
_GROUND_FAR = 32


def _grown(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """(H, W) bool ``mask`` dilated by a square of ``radius``, as two 1-D max pools."""
    x = mask[None, None].float()
    side = 2 * radius + 1
    x = F.max_pool2d(x, (1, side), stride=1, padding=(0, radius))
    return F.max_pool2d(x, (side, 1), stride=1, padding=(radius, 0))[0, 0] > 0


@torch.no_grad()
def ground_tint(src: torch.Tensor, out: torch.Tensor) -> float | None:
    """RGB distance between the output's mean on the input's flat ground near the figure
    and its mean on the same ground far from it; None without such a ground (the input's
    most common flat colour must cover 5% of the image, near and far). (3,H,W) in 0..1."""
    span = (F.max_pool2d(src[None], 5, 1, 2) + F.max_pool2d(-src[None], 5, 1, 2))[0]
    flat = span.amax(dim=0) < _GROUND_FLAT
    if int(flat.sum()) < 0.05 * flat.numel():
        return None
    bins = (src[:, flat] * 15).round().long()
    codes, counts = torch.unique(bins[0] * 256 + bins[1] * 16 + bins[2], return_counts=True)
    code = int(codes[counts.argmax()])
    colour = torch.tensor([code // 256, code // 16 % 16, code % 16], dtype=src.dtype) / 15
    # Within _GROUND_SAME of the mode's bin, whose centre may lie half a bin (1/30) off.
    ground = flat & ((src - colour.view(3, 1, 1)).square().sum(dim=0).sqrt()
                     < _GROUND_SAME + 1 / 30)
    figure = ~ground
    near = ground & _grown(figure, _GROUND_NEAR[1]) & ~_grown(figure, _GROUND_NEAR[0])
    far = ground & ~_grown(figure, _GROUND_FAR)
    if min(int(near.sum()), int(far.sum())) < 0.02 * flat.numel():
        return None
    out = out.clamp(0, 1)
    return float((out[:, near].mean(dim=1) - out[:, far].mean(dim=1)).norm())
