"""Quality table for the shipped styles, judged by a metric the training never saw.

Style distance: sliced Wasserstein distance between the features of an
independent random CNN (other seed, other architecture: 7x7/5x5 kernels,
max-pooling, leaky ReLU, not the training ``RandomFeatures``) of the output and
of the style image, both whitened per channel first, so matching colours alone
earns nothing: only structure (strokes, blobs, edges) moves the number.
Content preservation: SSIM of blurred luminance and the correlation of Sobel
edge magnitudes between input and output.

Baselines beside every style: the unchanged input and a per-channel mean/std
colour transfer toward the style. Run: ``.venv/bin/python bench/quality.py
[--styles starry_night udnie] [--textures demo/assets/*/*.jpg] [--out out/quality]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.training.data import load_rgb  # noqa: E402
from core.training.losses import luminance  # noqa: E402


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
    """Mean over levels of the sliced W2 distance, scaled by the style's spread."""
    torch.manual_seed(0)
    total = 0.0
    fi, fs = net(whiten(image)[None]), net(whiten(style)[None])
    for a, b in zip(fi, fs, strict=True):
        dirs = torch.randn(a.shape[1], 64)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        qa, qb = _quantiles(a, dirs), _quantiles(b, dirs)
        total += float(((qa - qb) ** 2).mean() / (qb.var(dim=0).mean() + 1e-8))
    return total / len(fi)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
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
    ma, mb = _blur(a, 1.5), _blur(b, 1.5)
    va = _blur(a * a, 1.5) - ma**2
    vb = _blur(b * b, 1.5) - mb**2
    cov = _blur(a * b, 1.5) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return float(s.mean())


def sobel(x: torch.Tensor) -> torch.Tensor:
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3)
    xp = F.pad(x[None], (1, 1, 1, 1), mode="reflect")
    gx, gy = F.conv2d(xp, kx), F.conv2d(xp, kx.transpose(2, 3))
    return (gx**2 + gy**2).sqrt()[0]


def edge_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of Sobel magnitudes of slightly blurred luminance."""
    ea, eb = sobel(_blur(a, 1.0)).flatten(), sobel(_blur(b, 1.0)).flatten()
    ea, eb = ea - ea.mean(), eb - eb.mean()
    return float((ea * eb).sum() / (ea.norm() * eb.norm() + 1e-8))


def content_scores(src: torch.Tensor, out: torch.Tensor) -> tuple[float, float]:
    la, lb = luminance(src[None])[0], luminance(out[None])[0]
    return ssim(_blur(la, 2.0), _blur(lb, 2.0)), edge_correlation(la, lb)


def colour_transfer(src: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Baseline: per-channel mean/std of the input moved to the style's."""
    ms, ss = style.mean(dim=(1, 2), keepdim=True), style.std(dim=(1, 2), keepdim=True)
    mi, si = src.mean(dim=(1, 2), keepdim=True), src.std(dim=(1, 2), keepdim=True)
    return ((src - mi) / (si + 1e-5) * ss + ms).clamp(0, 1)


def stylize(model, image: torch.Tensor) -> torch.Tensor:
    """The product's own inference path (tiled, seamless auto) on a (3,H,W) image."""
    from core.inference.stylize import StylizeSettings, stylize_array

    rgb = np.ascontiguousarray(image.permute(1, 2, 0).numpy())
    out = stylize_array(model, rgb, StylizeSettings(device="cpu"))
    return torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1)


def evaluate(rows: dict[str, list[torch.Tensor]], sources: list[torch.Tensor],
             style: torch.Tensor, net: MetricNet) -> dict[str, tuple[float, float, float]]:
    """Per row name: mean (style distance, blurred-luma SSIM, edge correlation)."""
    table = {}
    for name, outs in rows.items():
        d = [style_distance(net, o, style) for o in outs]
        c = [content_scores(s, o) for s, o in zip(sources, outs, strict=True)]
        n = len(outs)
        table[name] = (sum(d) / n, sum(x[0] for x in c) / n, sum(x[1] for x in c) / n)
    return table


def main() -> None:
    from core.store import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles", nargs="+", default=["starry_night", "udnie"])
    parser.add_argument("--textures", nargs="+", default=sorted(
        str(p) for p in (ROOT / "demo" / "assets").glob("*/*.jpg")))
    parser.add_argument("--out", type=Path, default=None, help="also write the outputs here")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    net = MetricNet()
    sources = [load_rgb(Path(p)) for p in args.textures]
    print(f"{len(sources)} textures: {', '.join(Path(p).name for p in args.textures)}")
    print(f"{'style':14} {'row':22} {'style dist':>10} {'vs input':>9} {'vs colour':>9} "
          f"{'SSIM(blur)':>10} {'edge corr':>9}")
    for name in args.styles:
        model = load_model(name, device="cpu")
        label = model.name
        files = [ROOT / "core" / "data" / "styles" / i["file"] for i in model.meta["style_images"]]
        style = load_rgb(files[0])
        rows = {
            "input (baseline)": sources,
            "colour transfer (base)": [colour_transfer(s, style) for s in sources],
            "stylized": [stylize(model, s) for s in sources],
        }
        table = evaluate(rows, sources, style, net)
        d_in, d_ct = table["input (baseline)"][0], table["colour transfer (base)"][0]
        for row, (d, s, e) in table.items():
            print(f"{label:14} {row:22} {d:10.4f} {d / d_in:9.2f} {d / d_ct:9.2f} "
                  f"{s:10.3f} {e:9.3f}")
        if args.out:
            from PIL import Image

            args.out.mkdir(parents=True, exist_ok=True)
            for path, out in zip(args.textures, rows["stylized"], strict=True):
                arr = (out.permute(1, 2, 0).numpy() * 255 + 0.5).astype("uint8")
                Image.fromarray(arr).save(args.out / f"{label}_{Path(path).stem}.png")


if __name__ == "__main__":
    main()
