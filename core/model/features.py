"""Feature extractors for the content and style losses; nothing is ever downloaded.

The default is a fixed random CNN drawn from a seed: random filters with ReLUs
and pooling already describe colour, blob and texture statistics well enough
for style losses, and need no file on disk. A pretrained VGG-19 is used only
when its weights are already on disk (``RESTYLE_VGG19_WEIGHTS`` pointing to a
torchvision-layout state dict in .safetensors or .pth, loaded without pickle code).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import BadInput

VGG_ENV = "RESTYLE_VGG19_WEIGHTS"


class FeatureNet(nn.Module):
    """Base: ``forward(x in [0,1]) -> list of feature maps``, coarsest last; weights frozen."""

    def freeze(self) -> FeatureNet:
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self


class RandomFeatures(FeatureNet):
    """Seeded random multi-scale CNN: conv-ReLU levels separated by 2x average pooling.

    Filters are zero-mean except in the first level, so deeper levels respond to
    structure (edges, strokes) rather than to flat colour; each level is rescaled
    to unit variance on a fixed noise image so no level dominates by accident.
    """

    def __init__(self, seed: int = 20160327, widths: tuple[int, ...] = (32, 64, 128, 128)) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.convs = nn.ModuleList()
        cin = 3
        for level, cout in enumerate(widths):
            k = 5 if level == 0 else 3
            conv = nn.Conv2d(cin, cout, k, padding=k // 2, padding_mode="reflect")
            w = torch.randn(cout, cin, k, k, generator=gen)
            if level > 0:
                w = w - w.mean(dim=(1, 2, 3), keepdim=True)
            conv.weight.data.copy_(w / (cin * k * k) ** 0.5)
            conv.bias.data.copy_(0.1 * torch.randn(cout, generator=gen))
            self.convs.append(conv)
            cin = cout
        self.freeze()
        self._calibrate(gen)

    @torch.no_grad()
    def _calibrate(self, gen: torch.Generator) -> None:
        """Scale every level to unit standard deviation on a smooth random image."""
        x = torch.rand(1, 3, 32, 32, generator=gen)
        x = F.interpolate(x, size=(128, 128), mode="bilinear", align_corners=False)
        h = (x - 0.5) / 0.25
        for level, conv in enumerate(self.convs):
            if level:
                h = F.avg_pool2d(h, 2)
            h = F.relu(conv(h))
            scale = 1.0 / (h.std() + 1e-6)
            conv.weight.mul_(scale)
            conv.bias.mul_(scale)
            h = h * scale

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - 0.5) / 0.25
        feats = []
        for level, conv in enumerate(self.convs):
            if level:
                h = F.avg_pool2d(h, 2)
            h = F.relu(conv(h))
            feats.append(h)
        return feats


_VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)
# torchvision ``features`` indices of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
_VGG19_TAPS = (1, 6, 11, 20, 29)


class VGG19Features(FeatureNet):
    """VGG-19 ``features`` up to relu5_1, weights from a local file only."""

    def __init__(self, weights: Path) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for item in _VGG19_CFG:
            if item == "M":
                layers.append(nn.AvgPool2d(2))
            else:
                layers += [nn.Conv2d(cin, int(item), 3, padding=1), nn.ReLU()]
                cin = int(item)
        self.features = nn.Sequential(*layers)
        state = _read_state(weights)
        own = {k: v for k, v in state.items() if k.startswith("features.")}
        try:
            self.load_state_dict(own, strict=True)
        except RuntimeError as exc:
            raise BadInput(
                f"VGG-19 weights {weights} do not match torchvision's vgg19 'features' layout "
                f"({str(exc).splitlines()[0]}); unset {VGG_ENV} to use the built-in features."
            ) from exc
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.freeze()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.mean) / self.std
        feats = []
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index in _VGG19_TAPS:
                feats.append(h)
            if index >= _VGG19_TAPS[-1]:
                break
        return feats


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is the same user problem
        raise BadInput(
            f"VGG-19 weights {path} could not be read ({exc}); fix the file or unset {VGG_ENV}."
        ) from exc


def build_features(kind: str = "auto", seed: int = 20160327) -> FeatureNet:
    """``random`` (default, offline), ``vgg19`` (needs the local file) or ``auto``."""
    env = os.environ.get(VGG_ENV, "")
    if kind == "vgg19" or (kind == "auto" and env and Path(env).is_file()):
        if not env or not Path(env).is_file():
            raise BadInput(f"VGG-19 features need a weights file: set {VGG_ENV} to its path.")
        return VGG19Features(Path(env))
    if kind in ("auto", "random"):
        return RandomFeatures(seed=seed)
    raise BadInput(f"Unknown feature extractor '{kind}': use auto, random or vgg19.")
