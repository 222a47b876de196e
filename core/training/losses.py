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

from ..model.blur import gaussian_blur, luminance
from ..model.lattice import LATTICE_DIRECTIONS, LATTICE_PERIODS


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


#: Blur scales (px) at which the structure term compares luminance: planks, grain and
#: borders, and room below them for the painting's marks.
STRUCTURE_SIGMAS = (4.0, 8.0)


def structure_loss(output: torch.Tensor, source: torch.Tensor,
                   sigmas: tuple[float, ...] = STRUCTURE_SIGMAS) -> torch.Tensor:
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


def _octaves(x: torch.Tensor, scales: int, patch: int) -> list[torch.Tensor]:
    """``x`` at up to ``scales`` octaves (2x2 average pooling: a box filter before the
    decimation, so no aliasing lattice), while a ``patch`` still fits."""
    levels = []
    for octave in range(scales):
        if octave:
            x = F.avg_pool2d(x, 2)
        if min(x.shape[-2:]) < patch:
            break
        levels.append(x)
    return levels


def _patch_rows(x: torch.Tensor, patch: int, count: int, gen: torch.Generator) -> torch.Tensor:
    """At most ``count`` random ``patch`` x ``patch`` windows of a batch, one per row.

    Gathered directly at random corners (not unfolded everywhere, then picked): the
    cost, forward and backward, is that of the ``count`` patches only.
    """
    n, _, h, w = x.shape
    rows, cols = h - patch + 1, w - patch + 1
    if n * rows * cols <= count:
        cols_all = F.unfold(x, patch)  # (N, C*patch*patch, positions)
        return cols_all.transpose(1, 2).reshape(-1, cols_all.shape[1])
    corner = torch.randint(n * rows * cols, (count,), generator=gen).to(x.device)
    image, rest = corner // (rows * cols), corner % (rows * cols)
    top, left = rest // cols, rest % cols
    offset = torch.arange(patch, device=x.device)
    ys = (top[:, None] + offset)[:, :, None]  # (count, patch, 1)
    xs = (left[:, None] + offset)[:, None, :]  # (count, 1, patch)
    windows = x.permute(0, 2, 3, 1)[image[:, None, None], ys, xs]  # (count, p, p, C)
    return windows.permute(0, 3, 1, 2).reshape(count, -1)


class StylePatches:
    """The style's raw-pixel patch distributions, measured once: sorted projections
    on fixed sets of random directions, at every octave (GPDM, Elnekave & Weiss 2022).

    Brush marks, their colours and their edges are patch statistics, so this is what
    carries strokes. Measuring the style side once per direction set (``sets`` style
    batches, each with its own directions) leaves one projection and one sort of the
    output per octave to each step; rotating through the sets still slices the patch
    space in ``sets`` times as many directions as one step uses.
    """

    def __init__(self, batches: list[torch.Tensor], gen: torch.Generator, patch: int = 5,
                 scales: int = 4, directions: int = 64, samples: int = 4096) -> None:
        self.patch, self.samples = patch, samples
        self.sets = []
        for style in batches:
            octaves = []
            for x in _octaves(style.detach(), scales, patch):
                w = random_directions(x.shape[1] * patch * patch, directions, gen, x.device)
                b = (_patch_rows(x, patch, samples, gen) @ w).T  # (directions, positions)
                octaves.append((w, torch.sort(b, dim=1).values, b.var(dim=1, keepdim=True)))
            self.sets.append(octaves)

    def distance(self, output: torch.Tensor, gen: torch.Generator, which: int = 0) -> torch.Tensor:
        """Sliced Wasserstein distance of the output batch's patches to direction set
        ``which``: pooled over the batch, each direction divided by the style's variance
        along it, so every octave weighs the same."""
        octaves = self.sets[which % len(self.sets)]
        total = output.new_zeros(())
        for (w, b_sorted, var), x in zip(octaves, _octaves(output, len(octaves), self.patch),
                                         strict=False):
            a_sorted = torch.sort((_patch_rows(x, self.patch, self.samples, gen) @ w).T,
                                  dim=1).values
            if b_sorted.shape[1] != a_sorted.shape[1]:
                b_sorted = F.interpolate(b_sorted[None], size=a_sorted.shape[1], mode="linear",
                                         align_corners=True)[0]
            total = total + ((a_sorted - b_sorted).square() / (var + 1e-4)).mean()
        return total / len(octaves)


def detail_band(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """What a Gaussian of ``sigma`` pixels blurs away from (N, C, H, W): the strokes'
    texture without the colour fields they sit in. ``StylePatches`` on it is the detail
    term: on raw pixels each projection's spread is mostly the patches' mean colour, so
    their detail weighed little, and the painting's own marks laid over an output made
    the raw-pixel and nearest-patch terms worse (Starry, stop 40), never better."""
    return x - gaussian_blur(x, sigma)


class StyleNeighbours:
    """The painting's own patches at coarse octaves, as a bank: each output patch is pulled
    to its nearest (the texture optimisation of Kwatra et al. 2005, and CNNMRF's nearest
    patches, Li and Wand 2016, on raw pixels).

    The sliced distance only matches the patch distribution's marginals, which a palette
    and per-pixel noise satisfy: optimised on pixels, it gave colour noise and no marks.
    Pulled to whole patches of the painting at 1/2 and 1/4 scale (7 px patches: 14 and
    28 px of it), the output takes the painting's strokes as they are, dabs and their
    directions.
    """

    def __init__(self, batches: list[torch.Tensor], gen: torch.Generator, patch: int = 7,
                 octaves: tuple[int, ...] = (1, 2), bank: int = 4096,
                 samples: int = 1024) -> None:
        self.patch, self.octaves, self.samples = patch, octaves, samples
        style = torch.cat([b.detach() for b in batches])
        self.banks = []
        for octave in octaves:
            rows = _patch_rows(F.avg_pool2d(style, 2**octave), patch, bank, gen)
            self.banks.append((rows, rows.square().sum(dim=1), rows.var(dim=0).sum()))

    def distance(self, output: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Mean squared distance of ``samples`` output patches per octave to their nearest
        in the bank, over the bank's own variance (scale-free like ``StylePatches``)."""
        total = output.new_zeros(())
        for octave, (bank, norms, var) in zip(self.octaves, self.banks, strict=True):
            rows = _patch_rows(F.avg_pool2d(output, 2**octave), self.patch, self.samples, gen)
            with torch.no_grad():  # |r - b|^2 without |r|^2, which the argmin ignores
                pick = (norms - 2 * rows @ bank.T).argmin(dim=1)
            total = total + (rows - bank[pick]).square().sum(dim=1).mean() / var
        return total / len(self.octaves)


def _lattice_log_ratios(x: torch.Tensor) -> torch.Tensor:
    """(N, 8) log of the luminance power at each lattice frequency (3x3 bins, max) over
    the median power of an 11x11 window around it (as ``bench/metrics.lattice_ratio``
    measures)."""
    lum = luminance(x.float())[:, 0]
    lum = lum - lum.mean(dim=(1, 2), keepdim=True)
    h, w = lum.shape[1:]
    window = torch.hann_window(h, periodic=False, device=x.device)[:, None] * torch.hann_window(
        w, periodic=False, device=x.device)[None, :]
    power = torch.fft.fft2(lum * window).abs().square()
    ring = torch.ones(11, 11, dtype=torch.bool, device=x.device)
    ring[4:7, 4:7] = False
    ratios = []
    for period in LATTICE_PERIODS:
        fy, fx = h // period, w // period
        for ky, kx in ((dy * fy, dx * fx) for dy, dx in LATTICE_DIRECTIONS):
            ys = torch.arange(ky - 5, ky + 6, device=x.device) % h
            xs = torch.arange(kx - 5, kx + 6, device=x.device) % w
            patch = power[:, ys][:, :, xs]
            peak = patch[:, 4:7, 4:7].flatten(1).amax(dim=1)
            around = patch[:, ring].median(dim=1).values
            ratios.append(torch.log(peak + 1e-12) - torch.log(around + 1e-12))
    return torch.stack(ratios, dim=1)


def lattice_penalty(output: torch.Tensor, source: torch.Tensor,
                    slack: float = 1.25) -> torch.Tensor:
    """How far the output's lattice energy rises above the source's (log ratio, beyond
    ``slack``x): a generator that answers JPEG block edges with marks pays here."""
    with torch.no_grad():
        reference = _lattice_log_ratios(source)
    excess = _lattice_log_ratios(output) - reference - torch.log(torch.tensor(slack))
    return F.relu(excess).mean()


def halo_penalty(output: torch.Tensor, source: torch.Tensor, radius: int = 8,
                 edge: float = 0.03) -> torch.Tensor:
    """How much of the output, around the input's strong edges, is not a local colour
    map of the input: coloured rims and glows beside silhouettes, lines and plank borders.

    In every (2 * radius + 1)^2 window the output is fitted as an affine map of the
    input's RGB (a 3x3 matrix and an offset: the guided filter's local linear model,
    He et al. 2010, in colour); what the fit leaves unexplained is a halo or a mark.
    Windows count by how strong an edge they hold (the input's luminance variance,
    squared against ``edge``^2), so marks stay free on soft texture and flat ground;
    the sum is relative to those windows' output variance, so turning the contrast
    down does not pay.
    """
    src = source.detach().float()
    out = output.float()
    size = 2 * radius + 1

    def mean(x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, h, w, C)
        return F.avg_pool2d(x, size, stride=2).permute(0, 2, 3, 1)

    mean_i, mean_o = mean(src), mean(out)
    pairs_ii = mean((src[:, :, None] * src[:, None]).flatten(1, 2)).unflatten(-1, (3, 3))
    pairs_oi = mean((out[:, :, None] * src[:, None]).flatten(1, 2)).unflatten(-1, (3, 3))
    cov_ii = pairs_ii - mean_i[..., :, None] * mean_i[..., None, :]
    cov_oi = pairs_oi - mean_o[..., :, None] * mean_i[..., None, :]
    var_o = (mean(out * out) - mean_o * mean_o).sum(dim=-1)
    ridge = 1e-4 * torch.eye(3, device=out.device)
    explained = (cov_oi * torch.linalg.solve(cov_ii + ridge, cov_oi.transpose(-1, -2))
                 .transpose(-1, -2)).sum(dim=(-1, -2))
    unexplained = (var_o - explained).clamp_min(0.0)
    lum = luminance(src)
    var_l = (F.avg_pool2d(lum * lum, size, stride=2) - F.avg_pool2d(lum, size, stride=2) ** 2)
    var_l = var_l[:, 0].clamp_min(0.0)
    weight = var_l.square() / (var_l.square() + edge**2)
    return (weight * unexplained).sum() / ((weight * var_o.clamp_min(0.0)).sum() + 1e-6)


#: Pixels from a cut-out within which its ground is "near" (from ``GROUND_GAP`` on: the
#: first pixels are the outline's), and beyond which it is "far".
GROUND_GAP, GROUND_NEAR = 2, 24
#: ``ground_penalty``'s bands for the outline term: the ground's first ``GROUND_GAP``
#: pixels against its ring from 8 px (past the rim's slope) to ``GROUND_NEAR`` (near
#: enough that a wash costs little).
OUTLINE_BANDS = {"near": (0, GROUND_GAP), "far": (8, GROUND_NEAR)}


def ground_penalty(output: torch.Tensor, ground: torch.Tensor,
                   near: tuple[int, int] = (GROUND_GAP, GROUND_NEAR),
                   far: tuple[int, int | None] = (GROUND_NEAR, None)) -> torch.Tensor:
    """How far the output's mean colour on a cut-out's flat ground ``near`` it (a band of
    pixels from it) is from its mean on the same ground ``far`` (None: to the crop's
    edge), squared, summed over RGB and crops.

    A glow or a tint round a silhouette has one sign all round it and survives the mean;
    fine marks average out. Washes as big as the crop do not: they pay too, which is why
    the weight stays low (at 15 Composition VII's colour patches went flat). ``ground``
    (N, 1, H, W) is 1 on a cut-out's flat ground (``CropSampler.batch_with_grounds``);
    crops without enough of both bands pay nothing. The halo term sees only 8 px
    beside an edge; the coarse levels tinted the ground up to 40-80 px round a horse.
    With ``OUTLINE_BANDS`` it is the outline term: the full-resolution convs sharpened
    every edge into a light rim 1-2 px wide on the ground (+.10-.13 luminance round the
    held-out horse).
    """
    figure = 1.0 - ground

    def within(distance: int | None) -> torch.Tensor:
        """1 on pixels at most ``distance`` px (square) from the figure; None: all."""
        if distance is None:
            return torch.ones_like(figure)
        return F.max_pool2d(figure, 2 * distance + 1, stride=1, padding=distance)

    masks = [ground * within(outer) * (1.0 - within(inner)) for inner, outer in (near, far)]
    least = min(64, near[1] ** 2)  # pixels for a mean: 64, or 4 in a 2 px outline band
    total = output.new_zeros(())
    for i in range(len(output)):
        if min(float(mask[i].sum()) for mask in masks) < least:
            continue
        mean_near, mean_far = ((output[i] * mask[i]).sum(dim=(1, 2)) / mask[i].sum()
                               for mask in masks)
        total = total + (mean_near - mean_far).square().sum()
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
