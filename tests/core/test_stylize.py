"""stylize_file/stylize_array: user controls, alpha, atomic output, cancel, determinism."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image
from tiny_models import smooth_image, tileable_image, tiny_model, to_uint8

from core.errors import BadInput, Cancelled
from core.inference import tiling
from core.inference.stylize import (
    _TO_YCC,
    StylizeSettings,
    keep_colours,
    stylize_array,
    stylize_file,
)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("model") / "tiny")


def _rgba_file(folder, size=(48, 64)):
    rng = np.random.default_rng(0)
    rgb = to_uint8(smooth_image(*size))
    alpha = rng.integers(0, 256, (*size, 1), dtype=np.uint8)
    Image.fromarray(np.concatenate([rgb, alpha], -1), "RGBA").save(folder / "in.png")
    return folder / "in.png"


def test_alpha_is_bit_exact_and_colour_changes(model, tmp_path):
    src = _rgba_file(tmp_path)
    dst = stylize_file(model, src, tmp_path / "out.png", StylizeSettings(tile=32))
    before, after = np.asarray(Image.open(src)), np.asarray(Image.open(dst))
    assert after.shape == before.shape
    assert np.array_equal(after[..., 3], before[..., 3])
    assert np.abs(after[..., :3].astype(int) - before[..., :3]).mean() > 2


def test_strength_zero_is_the_input_and_half_is_between(model):
    image = smooth_image(40, 40)
    full = stylize_array(model, image, StylizeSettings())
    none = stylize_array(model, image, StylizeSettings(strength=0.0))
    half = stylize_array(model, image, StylizeSettings(strength=0.5))
    assert np.abs(none - image).max() < 1e-6
    assert np.abs(half - (image + full) / 2).max() < 1e-5


def test_preserve_color_keeps_chroma_and_takes_stylized_luminance(model):
    image = smooth_image(40, 40)
    full = stylize_array(model, image, StylizeSettings())
    kept = stylize_array(model, image, StylizeSettings(preserve_color=True))
    ycc_in, ycc_full, ycc_kept = (x @ _TO_YCC.T for x in (image, full, kept))
    inside = (kept > 0.001).all(-1) & (kept < 0.999).all(-1)
    assert inside.mean() > 0.5
    assert np.abs(ycc_kept[inside, 1:] - ycc_in[inside, 1:]).max() < 1e-4
    # Everywhere the luminance is the stylized one; out of gamut, the chroma shrinks
    # toward grey along the input's own hue.
    assert np.abs(ycc_kept[..., 0] - ycc_full[..., 0]).max() < 1e-4
    scale = (np.linalg.norm(ycc_kept[..., 1:], axis=-1)
             / np.maximum(np.linalg.norm(ycc_in[..., 1:], axis=-1), 1e-6))
    assert scale.max() < 1 + 1e-3
    assert np.abs(ycc_kept[..., 1:] - scale[..., None] * ycc_in[..., 1:]).max() < 1e-4


def test_keeping_colours_of_a_saturated_red_shrinks_chroma_rather_than_clipping():
    red = np.array([[[0.95, 0.1, 0.1], [0.9, 0.05, 0.2]]], np.float32)
    bright = np.full_like(red, 0.8)  # a stylized luminance that cannot hold that red
    kept = keep_colours(bright, red)
    assert np.abs(kept @ _TO_YCC[0] - 0.8).max() < 1e-5
    assert (kept[..., 0] > kept[..., 1]).all() and kept.max() <= 1.0


def test_scale_runs_at_another_resolution_and_returns_the_original_size(model):
    image = to_uint8(smooth_image(50, 70))
    for scale in (0.5, 1.6):
        out = stylize_array(model, image, StylizeSettings(scale=scale, strength=0.8))
        assert out.shape == image.shape and out.dtype == np.uint8


def test_a_stroke_scale_below_one_keeps_the_texture_own_fine_detail(model):
    """The net runs on the texture shrunk 4x, but only its change is enlarged and added:
    the one-pixel grain of the input is still in the output (resampling the whole result
    blurred it away), and the change itself is coarse."""
    grain = np.random.default_rng(3).uniform(-0.1, 0.1, (96, 96, 3)).astype(np.float32)
    image = np.clip(smooth_image(96, 96, seed=3) + grain, 0, 1)

    def fine(x):  # what a 3x3 box blur removes
        padded = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
        blur = sum(padded[dy : dy + 96, dx : dx + 96] for dy in range(3) for dx in range(3))
        return x - blur / 9

    out = stylize_array(model, image, StylizeSettings(scale=0.25))
    assert np.corrcoef(fine(out).ravel(), fine(image).ravel())[0, 1] > 0.95
    change = out - image
    assert np.abs(change).mean() > 0.01  # the model did change it
    assert np.abs(fine(change)).mean() < 0.25 * np.abs(change).mean()  # in broad marks


def test_seamless_auto_keeps_a_tileable_texture_tileable(model, tmp_path, monkeypatch):
    monkeypatch.setattr(tiling, "ONE_PASS_MAX_PIXELS", 0)
    Image.fromarray(to_uint8(tileable_image(256))).save(tmp_path / "tex.png")
    out = np.asarray(Image.open(stylize_file(model, tmp_path / "tex.png", tmp_path / "o.png",
                                             StylizeSettings(tile=128)))).astype(float)
    for axis in (0, 1):
        interior = np.abs(np.diff(out, axis=axis)).mean()
        seam = np.abs(np.take(out, 0, axis) - np.take(out, -1, axis)).mean()
        assert seam <= 1.5 * interior + 0.5


def test_cancel_leaves_no_output_file(model, tmp_path, monkeypatch):
    monkeypatch.setattr(tiling, "ONE_PASS_MAX_PIXELS", 0)  # tile this small image
    src = _rgba_file(tmp_path, (256, 256))  # 2 x 2 tiles of the smallest size
    cancel = threading.Event()

    def cancel_mid_run(fraction, phase, message):
        if phase == "stylize" and "tile 2/" in message:
            cancel.set()

    out_dir = tmp_path / "out"
    with pytest.raises(Cancelled):
        stylize_file(model, src, out_dir / "r.png", StylizeSettings(tile=128),
                     progress=cancel_mid_run, cancel=cancel)
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_failed_write_leaves_no_file_and_says_where(model, tmp_path):
    src = _rgba_file(tmp_path)
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises((BadInput, OSError)):
        stylize_file(model, src, tmp_path / "blocker" / "r.png", StylizeSettings())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "in.png"]


def test_same_input_same_output_file(model, tmp_path):
    src = _rgba_file(tmp_path)
    first = stylize_file(model, src, tmp_path / "a.png", StylizeSettings(tile=32))
    second = stylize_file(model, src, tmp_path / "b.png", StylizeSettings(tile=32))
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("settings,message", [
    (StylizeSettings(tile=4), "Tile size"),
    (StylizeSettings(seamless="maybe"), "Seamless"),
    (StylizeSettings(strength=1.5), "Strength"),
    (StylizeSettings(scale=0.0), "Scale"),
])
def test_bad_settings_are_refused(model, tmp_path, settings, message):
    with pytest.raises(BadInput, match=message):
        stylize_file(model, _rgba_file(tmp_path), tmp_path / "o.png", settings)
