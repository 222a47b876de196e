"""Tiled inference: equals the untiled run, wraps when seamless, streams, cancels."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from tiny_models import smooth_image, tileable_image, tiny_generator, to_uint8

from core.errors import Cancelled
from core.inference import tiling
from core.inference.tiling import is_tileable, source_index, stylize_tiled
from core.model.generator import ARCH_TYPE, ZERO_PADDED_TYPE, build_generator


@pytest.fixture()
def force_tiles(monkeypatch):
    """Tile even tiny images (they normally run in one pass), keeping whole-image stats."""
    monkeypatch.setattr(tiling, "ONE_PASS_MAX_PIXELS", 0)


def test_tiled_equals_untiled_on_an_odd_size(monkeypatch):
    generator = tiny_generator()
    image = smooth_image(100, 150)  # not a multiple of the generator's stride
    whole = stylize_tiled(generator, image)  # one pass
    assert np.abs(whole - image).mean() > 0.01  # the network really changes the image
    monkeypatch.setattr(tiling, "ONE_PASS_MAX_PIXELS", 0)
    for tile in (32, 48, 72, 4096):
        tiled = stylize_tiled(generator, image, tile=tile)
        assert tiled.shape == image.shape and tiled.dtype == image.dtype
        assert np.abs(tiled - whole).max() < 1e-3, tile


@pytest.mark.parametrize("kind", [ARCH_TYPE, ZERO_PADDED_TYPE])
def test_tiled_equals_untiled_with_the_default_architecture(force_tiles, kind):
    """Both with mirror-padded convs (no border at the image's edges) and with the older
    zero-padded ones (a mirrored border a context wide)."""
    torch.manual_seed(0)
    generator = build_generator(type=kind).eval()  # the shipped size: the real context
    torch.nn.init.normal_(generator.head.weight, std=0.01)
    if kind == ARCH_TYPE:  # the painting's marks, turned and laid straight
        generator.set_marks(torch.randn_like(generator.mark_bank), contrast=0.01)
    image = smooth_image(136, 200, seed=3)
    whole = stylize_tiled(generator, image, tile=4096)
    assert np.abs(stylize_tiled(generator, image, tile=64) - whole).max() < 1e-3


def test_tiled_equals_untiled_for_uint8(force_tiles):
    generator = tiny_generator(seed=1)
    image = to_uint8(smooth_image(96, 80, seed=1))
    whole = stylize_tiled(generator, image, tile=4096)
    assert whole.dtype == np.uint8
    assert np.abs(stylize_tiled(generator, image, tile=32).astype(int) - whole).max() <= 1


@pytest.mark.parametrize("wrap", [(False, False), (True, True)])
def test_in_place_equals_a_separate_output(force_tiles, wrap):
    """Writing over the source must never feed a later tile stylized pixels, also where
    a seamless image's last strip reads its first rows around the border."""
    generator = tiny_generator(seed=4, head_std=0.02)
    image = to_uint8(smooth_image(100, 72, seed=4))
    def halfway(styl, src):  # a finish reads the source rows of what it finishes
        return 0.5 * (styl + src)

    for finish in (None, halfway):
        separate = stylize_tiled(generator, image, tile=16, wrap=wrap, finish=finish)
        source = image.copy()
        result = stylize_tiled(generator, source, tile=16, wrap=wrap, finish=finish,
                               in_place=True)
        assert result is source
        assert np.array_equal(result, separate)
        assert not np.array_equal(separate, image)


def test_huge_images_take_statistics_from_crops(monkeypatch, force_tiles):
    generator = tiny_generator(seed=1, head_std=0.01)
    rng = np.random.default_rng(0)
    image = to_uint8(tileable_image(128, seed=1) * 0.8 + rng.random((128, 128, 3)) * 0.2)
    whole = stylize_tiled(generator, image, tile=4096)
    monkeypatch.setattr(tiling, "WHOLE_STATS_MAX_PIXELS", 32 * 32)
    monkeypatch.setattr(tiling, "STATS_CROP", 48)
    crops_tiled = stylize_tiled(generator, image, tile=32)
    crops_other = stylize_tiled(generator, image, tile=48)
    # Still independent of the tiling, and close to the whole-image statistics.
    assert np.abs(crops_tiled.astype(int) - crops_other).max() <= 1
    effect = np.abs(whole.astype(float) - image).mean()
    assert np.abs(crops_tiled.astype(float) - whole).mean() < 0.5 * effect


def test_seamless_output_wraps_without_an_edge(monkeypatch):
    generator = tiny_generator(seed=2, head_std=0.02)
    texture = tileable_image(64)
    assert is_tileable(texture) == (True, True)
    out = stylize_tiled(generator, texture, wrap=(True, True))  # one pass
    for axis in (0, 1):
        interior = np.abs(np.diff(out, axis=axis)).mean()
        seam = np.abs(np.take(out, 0, axis) - np.take(out, -1, axis)).mean()
        assert seam <= 1.5 * interior + 1e-3, (axis, seam, interior)
    monkeypatch.setattr(tiling, "ONE_PASS_MAX_PIXELS", 0)
    tiled = stylize_tiled(generator, texture, tile=32, wrap=(True, True))
    assert np.abs(out - tiled).max() < 1e-3


def test_tileability_detection():
    assert is_tileable(to_uint8(tileable_image(64, seed=4))) == (True, True)
    assert is_tileable(smooth_image(64, 64)) == (False, False)
    stripes = np.repeat(tileable_image(64)[:1], 64, axis=0)  # wraps across columns only
    stripes[:, :, :] += np.linspace(0, 0.5, 64, dtype=np.float32)[:, None, None]
    assert is_tileable(np.clip(stripes, 0, 1)) == (False, True)


def test_source_index_mirrors_and_wraps():
    assert source_index(4, -3, 7, circular=False).tolist() == [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]
    assert source_index(4, -2, 6, circular=True).tolist() == [2, 3, 0, 1, 2, 3, 0, 1]
    assert source_index(1, -2, 2, circular=False).tolist() == [0, 0, 0, 0]


def test_progress_per_tile_and_cancel_between_tiles(force_tiles):
    generator = tiny_generator()
    image = smooth_image(256, 256)  # four tiles of the smallest size (4 bands of 32 px)
    seen = []
    stylize_tiled(generator, image, tile=128, progress=lambda f, p, m: seen.append((f, m)))
    assert [m for _f, m in seen if m.startswith("tile")] == [f"tile {k}/4" for k in range(1, 5)]
    assert seen[-1][0] == 1.0
    cancel = threading.Event()

    def stop_after_first_tile(fraction, phase, message):
        if message.startswith("tile"):
            cancel.set()

    with pytest.raises(Cancelled):
        stylize_tiled(generator, image, tile=128, progress=stop_after_first_tile, cancel=cancel)
    # The model is usable again afterwards (statistics were released).
    assert np.abs(stylize_tiled(generator, image, tile=128) - stylize_tiled(
        generator, image, tile=4096)).max() < 1e-3


def test_same_input_same_output(force_tiles):
    image = smooth_image(72, 40, seed=5)
    first = stylize_tiled(tiny_generator(seed=7), image, tile=32)
    second = stylize_tiled(tiny_generator(seed=7), image, tile=32)
    assert np.array_equal(first, second)


def test_large_images_keep_small_tile_cores(monkeypatch):
    generator = tiny_generator()
    image = smooth_image(512, 512)
    assert max(b - a for a, b in tiling._Tiler(image, generator, 1024, (False, False)).rows) == 512
    monkeypatch.setattr(tiling, "LARGE_IMAGE_PIXELS", 100 * 100)
    monkeypatch.setattr(tiling, "LARGE_IMAGE_TILE", 128)
    geo = tiling._Tiler(image, generator, 1024, (False, False))
    assert max(b - a for a, b in geo.rows + geo.cols) <= 128
