"""The painting's own marks: detail patches cut from the painting, laid down by position."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from core.model.exemplar import CELL, PATCH, painting_patches, patch_marks
from core.model.noise import grid_coords
from core.store import PAINTINGS_DIR
from core.training.data import load_rgb

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from metrics import lattice_ratio


def _bank(name: str = "starry_night", count: int = 32) -> torch.Tensor:
    painting = load_rgb(PAINTINGS_DIR / f"{name}.jpg")
    return painting_patches([painting], count, torch.Generator().manual_seed(0))


def test_patches_are_the_paintings_zero_mean_detail():
    bank = _bank()
    assert bank.shape == (32, 3, PATCH, PATCH)
    assert float(bank.mean(dim=(0, 2, 3)).abs().max()) < 1e-5
    assert abs(float(bank.std()) - 1.0) < 1e-3
    assert not torch.equal(bank, _bank("udnie"))  # each painting its own marks


def test_a_crop_gets_exactly_the_marks_the_whole_image_has_there():
    """Keyed to source positions: a tile starting on a vertex row and column agrees."""
    bank = _bank()
    whole = patch_marks(bank, *grid_coords(1, 128, 160))
    origin = torch.tensor([[2 * CELL, 3 * CELL]])
    crop = patch_marks(bank, *grid_coords(1, 64, 64, origin))
    assert torch.allclose(crop, whole[:, :, 2 * CELL : 2 * CELL + 64, 3 * CELL : 3 * CELL + 64])


def test_blend_keeps_the_contrast_and_draws_no_grid():
    """The contrast-preserving blend: as strong between vertices as on them, and no peak
    at the period-4/8 lattice frequencies beyond white noise's (about 6)."""
    marks = patch_marks(_bank(count=64), *grid_coords(1, 512, 512))[0]
    power = marks.square().mean(dim=0)  # per pixel
    on_vertex = power[::CELL, ::CELL].mean().sqrt()
    between = power[CELL // 2 :: CELL, CELL // 2 :: CELL].mean().sqrt()
    assert 0.75 < float(between / on_vertex) < 1.33
    assert lattice_ratio(marks.permute(1, 2, 0).numpy()) < 10


def test_a_painting_smaller_than_a_patch_still_gives_patches():
    small = torch.rand(3, 20, 40)
    bank = painting_patches([small], 4, torch.Generator().manual_seed(1))
    assert bank.shape == (4, 3, PATCH, PATCH) and torch.isfinite(bank).all()
