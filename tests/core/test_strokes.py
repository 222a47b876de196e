"""Position-keyed noise and the brush-stroke field: fixed per source pixel, and strokes
that run along the texture's grain and turn slowly on flat ground."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.inference.stylize import StylizeSettings, stylize_array
from core.model.generator import NOISELESS_TYPE, UNGATED_TYPE, build_generator
from core.model.noise import grid_coords, position_noise
from core.model.strokes import (
    GRAIN_FLOOR,
    GRAIN_RADIUS,
    STREAKS,
    STROKE_RADIUS,
    grain_fade,
    stroke_field,
)
from core.store import load_model

#: Spread of a shipped style's output on flat orange: the shipped styles measure
#: 0.034-0.041 (about 9-10 levels of 255); the restyle-gen4 Starry Night, 0.0001.
MARKS_STD = 0.02


def test_noise_is_a_function_of_the_source_pixel():
    rows, cols = grid_coords(1, 64, 48)
    whole = position_noise(rows, cols, 3)
    crop = position_noise(rows[:, 16:40], cols[:, 8:32], 3)
    assert torch.equal(crop, whole[:, :, 16:40, 8:32])
    assert whole.min() >= -1.0 and whole.max() < 1.0
    assert abs(float(whole.mean())) < 0.05 and 0.5 < float(whole.std()) < 0.65
    # Channels and the other uses' channels are independent draws.
    other = position_noise(rows, cols, 3, first=3)
    assert abs(float(torch.corrcoef(torch.stack([whole.flatten(), other.flatten()]))[0, 1])) < 0.05


def _correlation_length(field: torch.Tensor, dim: int) -> float:
    """Lag at which the autocorrelation of ``field`` (H, W) along ``dim`` falls below 1/2."""
    field = (field - field.mean()) / field.std()
    for lag in range(1, 32):
        if float((field * field.roll(lag, dims=dim)).mean()) < 0.5:
            return lag
    return 32.0


def test_strokes_run_along_the_grain():
    """On horizontal grain the streaks are long across the columns and thin down the rows."""
    y = torch.arange(128.0).view(1, 1, -1, 1).expand(1, 3, 128, 128)
    grain = torch.sin(y * 0.7) * 0.3
    field = stroke_field(grain.contiguous(), *grid_coords(1, 128, 128))[0][0, 0, 16:-16, 16:-16]
    along, across = _correlation_length(field, 1), _correlation_length(field, 0)
    assert along >= 3 * across, (along, across)


def test_flat_ground_gets_strokes():
    """A flat input still gets a stroke field (the swirl); a crop of it, keyed to where it
    lies, gets the same strokes wherever it sees ``STROKE_RADIUS`` around."""
    flat = torch.zeros(1, 3, 320, 320)
    field, _ = stroke_field(flat, *grid_coords(1, 320, 320))
    assert field.shape == (1, STREAKS, 320, 320)
    assert float(field.std()) > 0.2
    assert STROKE_RADIUS <= 96
    moved, _ = stroke_field(flat[:, :, :256, :256],
                            *grid_coords(1, 256, 256, torch.tensor([[24, 32]])))
    assert torch.allclose(moved[:, :, 96:160, 96:160], field[:, :, 120:184, 128:192], atol=1e-5)


def _flat_and_grained() -> torch.Tensor:
    """(1, 3, 128, 256): flat on the left half, fine vertical stripes (period 8 px, the
    contrast of a weave) on the right."""
    x = torch.arange(256.0).view(1, 1, 1, -1).expand(1, 3, 128, 256)
    return torch.where(x < 128, 0.0, 0.3 * torch.sin(x * (2 * torch.pi / 8))).contiguous()


@pytest.mark.parametrize("gated", [True, False])
def test_streaks_fade_over_the_texture_own_detail(gated):
    """The gated field is several times weaker over fine stripes than on flat ground, so
    a style's streak gain paints flat ground and leaves a weave its own; restyle-gen5's
    ungated field is as strong on both."""
    field, _ = stroke_field(_flat_and_grained(), *grid_coords(1, 128, 256), gated=gated)
    flat = float(field[..., 16:-16, 16:96].std())
    grained = float(field[..., 16:-16, 160:-16].std())
    if gated:
        assert grained * 3 < flat, (grained, flat)
    else:
        assert grained > 0.7 * flat, (grained, flat)


def test_files_of_the_generator_before_the_gate_load_ungated():
    """A restyle-gen5 model was trained on ungated streaks and keeps them."""
    old = build_generator(type=UNGATED_TYPE, width=8, deep_width=16, blocks=1)
    assert old.gated_strokes is False and build_generator().gated_strokes is True


def test_files_of_the_generator_before_noise_still_load():
    """A restyle-gen4 model has no noise or strokes: the same weights as then."""
    old = build_generator(type=NOISELESS_TYPE, width=8, deep_width=16, blocks=1)
    assert old.stem[0].weight.shape[1] == 3 * 16 and old.skin.weight.shape[1] == 3
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(old.eval()(x), x)


@pytest.mark.parametrize("style", ["starry_night", "udnie", "composition_vii", "wave"])
def test_shipped_styles_paint_marks_on_flat_ground(style):
    """A plain orange field (a basketball's leather, a painted wall) gets the painting's
    marks, not one flat colour: a generator without noise or strokes returns a constant
    here."""
    flat = np.zeros((256, 256, 3), np.float32) + np.array([0.75, 0.4, 0.05], np.float32)
    out = stylize_array(load_model(style, device="cpu"), flat, StylizeSettings(device="cpu"))
    inner = out[32:-32, 32:-32]
    assert float(inner.std(axis=(0, 1)).mean()) > MARKS_STD


def test_broad_marks_fade_over_fine_grain_and_not_on_flat_ground():
    """``grain_fade`` is 1 on a flat ground, about ``GRAIN_FLOOR`` over a grain of a pixel
    or two (which the half-resolution fade misses), and a crop on the grid fades as the
    whole image does there."""
    size = 128
    rows = torch.arange(size).view(-1, 1)
    lines = 0.1 * torch.where(rows % 2 == 0, 1.0, -1.0).expand(size, size)  # brushed lines
    centred = torch.zeros(1, 3, size, 2 * size)
    centred[:, :, :, size:] = lines
    fade = grain_fade(centred)[0, 0]
    assert float(fade[:, : size // 2].min()) > 0.99
    assert abs(float(fade[:, -size // 2 :].mean()) - GRAIN_FLOOR) < 0.02
    crop = grain_fade(centred[:, :, 32:96, 64:192])[0, 0]
    reach = GRAIN_RADIUS
    assert torch.allclose(crop[reach:-reach, reach:-reach],
                          fade[32 + reach : 96 - reach, 64 + reach : 192 - reach], atol=1e-5)
