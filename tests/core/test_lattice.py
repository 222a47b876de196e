"""No lattice by construction: a stylized smooth image has no peaks at the period-4/8
lattice frequencies, whether the model is briefly trained or shipped."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.nn import functional as F

from core.inference.stylize import StylizeSettings, stylize_array
from core.model.lattice import LATTICE_FREQUENCIES, POINT_NOTCH_RADIUS, point_notch
from core.store import StyleModel, load_model
from core.training import data, losses
from core.training.trainer import TrainSettings, run_training

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from metrics import lattice_ratio

LIMIT = 1.5  # the output's lattice ratio over the input's


def smooth_noise(size: int, seed: int = 0) -> np.ndarray:
    """Low-frequency colour noise on a gradient, (size, size, 3) float32 in 0..1."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 6, 6, generator=gen)
    noise = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)[0]
    ramp = torch.linspace(0, 0.3, size).view(1, 1, -1)
    return (noise * 0.6 + ramp + 0.1).clamp(0, 1).permute(1, 2, 0).numpy().astype(np.float32)


def stripes(size: int) -> torch.Tensor:
    """A bold style: diagonal stripes of two colours, (3, size, size)."""
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    mask = (((x + y) // 5) % 2 == 0).float()
    return torch.stack([mask * 0.9, 0.2 + mask * 0.3, 1 - mask * 0.8])


def _ratio(model: StyleModel, image: np.ndarray) -> float:
    out = stylize_array(model, image, StylizeSettings(device="cpu"))
    assert np.abs(out - image).mean() > 0.01, "the model must actually change the image"
    return lattice_ratio(out) / lattice_ratio(image)


def test_briefly_trained_model_draws_no_lattice():
    image = smooth_noise(256)
    settings = TrainSettings(steps=30, size=64, batch=2, device="cpu", lr=3e-3, seed=1,
                             arch={"width": 16, "deep_width": 32, "blocks": 1})
    generator, _ = run_training([stripes(128)], [torch.from_numpy(image).permute(2, 0, 1)],
                                settings)
    model = StyleModel(name="brief", generator=generator, meta={}, path=None)
    assert _ratio(model, image) < LIMIT


@pytest.mark.parametrize("style", ["starry_night", "udnie", "composition_vii", "wave"])
def test_shipped_model_draws_no_lattice(style):
    assert _ratio(load_model(style, device="cpu"), smooth_noise(256, seed=2)) < LIMIT


#: A real JPEG game texture (CC0, see NOTICE): oak grain whose long smooth runs down
#: each column make the 8x8 block edges stand out. Shipped styles once painted them as a
#: period-4 line grid (Composition VII: 6.9x the input's lattice ratio).
OAK_JPEG = Path(__file__).parent / "data" / "american_oak.jpg"


@pytest.mark.parametrize("style", ["starry_night", "udnie", "composition_vii", "wave"])
def test_shipped_model_paints_no_jpeg_block_grid(style):
    image = np.asarray(Image.open(OAK_JPEG).convert("RGB"), np.float32) / 255.0
    assert _ratio(load_model(style, device="cpu"), image) < LIMIT


def test_lattice_penalty_is_zero_for_the_source_and_prices_an_added_grid():
    source = torch.from_numpy(smooth_noise(128)).permute(2, 0, 1)[None]
    y, x = torch.meshgrid(torch.arange(128), torch.arange(128), indexing="ij")
    grid = 0.05 * ((y % 4 == 0) | (x % 8 == 0)).float()
    gridded = (source + grid).requires_grad_(True)
    assert float(losses.lattice_penalty(source, source)) == 0.0
    penalty = losses.lattice_penalty(gridded, source)
    penalty.backward()
    assert float(penalty.detach()) > 1.0 and float(gridded.grad.abs().sum()) > 0


def test_jpeg_round_trip_adds_block_edges_where_a_file_has_them():
    crop = torch.from_numpy(smooth_noise(64)).permute(2, 0, 1)[None]
    rough = data.jpeg_round_trip(crop, torch.Generator().manual_seed(0), qualities=(20, 21))
    steps = (rough - crop).abs().mean(dim=(0, 1, 3))  # per row
    assert rough.shape == crop.shape and float(steps.mean()) > 0.002


def _wave(fy: float, fx: float, side: int = 128) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    return torch.cos(2 * math.pi * (fy * y + fx * x) + 0.7).expand(1, 3, side, side)


def test_point_notch_removes_the_lattice_frequencies_and_keeps_the_rest():
    inner = (slice(None), slice(None), slice(32, 96), slice(32, 96))
    for fy, fx in LATTICE_FREQUENCIES:
        assert float(point_notch(_wave(fy, fx))[inner].abs().max()) < 0.01
    for fy, fx in [(0.19, 0.125), (0.3, 0.1), (0.02, 0.0), (0.5, 0.5), (0.375, 0.0)]:
        kept = point_notch(_wave(fy, fx))[inner].std() / _wave(fy, fx)[inner].std()
        assert 0.97 < float(kept) < 1.03
    noise = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    assert float(point_notch(noise).var() / noise.var()) > 0.93


def test_point_notch_of_a_tile_on_the_block_grid_is_the_whole_images():
    image = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    whole = point_notch(image)
    tile = point_notch(image[..., 64:, 72:])
    r = POINT_NOTCH_RADIUS
    assert torch.allclose(whole[..., 64 + r : -r, 72 + r : -r], tile[..., r:-r, r:-r],
                          atol=1e-6)
