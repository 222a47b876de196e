"""The painting's own marks: detail patches cut from the painting, laid down by position."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from core.model.blur import luminance
from core.model.exemplar import (
    BROAD,
    FINE,
    TURNED,
    MarkLayout,
    painting_contrast,
    painting_patches,
    patch_marks,
    turned_patches,
)
from core.model.noise import grid_coords
from core.model.strokes import flow_angle, flow_turns, structure_tensor
from core.store import PAINTINGS_DIR
from core.training.data import load_rgb

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from metrics import lattice_ratio

CELL, PATCH = FINE.cell, FINE.patch


def _bank(name: str = "starry_night", count: int = 32, layout=FINE) -> torch.Tensor:
    painting = load_rgb(PAINTINGS_DIR / f"{name}.jpg")
    return painting_patches([painting], count, torch.Generator().manual_seed(0), layout)


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


def _angles(patches: torch.Tensor) -> torch.Tensor:
    """Each patch's mean flow angle in degrees."""
    tensor = structure_tensor(luminance(patches)).mean(dim=(2, 3), keepdim=True)
    return flow_angle(tensor)[:, 0, 0] * (180 / math.pi)


@pytest.mark.parametrize("layout", [TURNED, BROAD])
def test_turned_patches_run_at_every_turn(layout: MarkLayout):
    """Stripes along x, and across, turned to each of the layout's angles."""
    side = layout.patch
    wave = torch.sin(torch.arange(side) * (2 * math.pi / 9))
    across, along = wave.view(-1, 1), wave.view(1, -1)
    bank = torch.stack([across.expand(3, side, side), along.expand(3, side, side)])
    table = turned_patches(bank, layout)
    assert table.shape == (2 * layout.turns, 3, layout.window, layout.window)
    wanted = torch.arange(layout.turns).repeat(2) * (180 / layout.turns)
    error = (_angles(table) - wanted).remainder(180)
    assert float(torch.minimum(error, 180 - error).max()) < 3


@pytest.mark.parametrize("layout", [TURNED, BROAD])
def test_marks_turn_along_the_textures_flow(layout: MarkLayout):
    """Grain along 30 degrees: every vertex takes the turn nearest 30, and the laid marks
    run that way; a crop on a vertex lays exactly the whole image's marks there."""
    size = 256
    y, x = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    angle = math.radians(30)
    grain = torch.sin((-x * math.sin(angle) + y * math.cos(angle)) * (2 * math.pi / 23))
    centred = (grain * 0.5).expand(1, 3, size, size)
    coords = grid_coords(1, size, size)
    turns = flow_turns(centred, *coords, layout.cell, layout.turns)
    assert turns.shape == (1, size // layout.cell + 1, size // layout.cell + 1)
    assert bool((turns[:, 1:-2, 1:-2] == round(30 / (180 / layout.turns))).all())
    table = turned_patches(_bank(count=16, layout=layout), layout)
    marks = patch_marks(table, *coords, layout, turns)
    assert abs(float(_angles(marks[:, :, 32:-32, 32:-32])[0]) - 30) < 12
    origin = torch.tensor([[2 * layout.cell, layout.cell]])
    crop = patch_marks(table, *grid_coords(1, 64, 96, origin), layout,
                       turns[:, 2 : 2 + 64 // layout.cell + 1, 1 : 1 + 96 // layout.cell + 1])
    top, left = origin[0].tolist()
    assert torch.allclose(crop, marks[:, :, top : top + 64, left : left + 96])


def test_painting_contrast_is_the_spread_of_the_paintings_detail():
    """A fine check of +-.1 on grey is all detail at the marks' sigma, flat grey none;
    over both paintings together the spread is pooled by area."""
    flat = torch.full((3, 64, 64), 0.4)
    rows, cols = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    check = flat + 0.1 * (1 - 2 * ((rows + cols) % 2)).float()
    assert painting_contrast([flat], BROAD) < 1e-6
    assert abs(painting_contrast([check], BROAD) - 0.1) < 0.005
    assert abs(painting_contrast([flat, check], BROAD) - 0.1 / math.sqrt(2)) < 0.005
