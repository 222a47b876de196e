"""Kept PNGs: the worker's fast-deflated results are re-deflated at the usual level, pixel
for pixel, and other formats are copied as they are."""

from __future__ import annotations

import numpy as np
from PIL import Image, PngImagePlugin

from restyle.addon.keptpng import KEPT_PNG_LEVEL, save_kept


def _texture() -> np.ndarray:
    """Smooth gradients with mild noise: compresses like a stylized texture."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:180, 0:240]
    base = np.stack([x, y, (x + y) // 2], -1) % 256
    return np.clip(base + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8)


def test_a_fast_png_is_kept_at_the_usual_level_with_every_pixel_and_chunk(tmp_path):
    rgba = np.dstack([_texture(), np.arange(180 * 240, dtype=np.uint8).reshape(180, 240)])
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "restyle test")
    fast, usual = tmp_path / "fast.png", tmp_path / "usual.png"
    Image.fromarray(rgba, "RGBA").save(fast, compress_level=1, pnginfo=info)
    Image.fromarray(rgba, "RGBA").save(usual, compress_level=KEPT_PNG_LEVEL, pnginfo=info)
    kept = save_kept(fast, tmp_path / "kept.png")
    with Image.open(kept) as image:
        assert np.array_equal(np.asarray(image), rgba)
        assert image.text == {"Software": "restyle test"}
    size = kept.stat().st_size
    assert size < fast.stat().st_size and abs(size - usual.stat().st_size) < 0.1 * size
    assert save_kept(fast, fast) == fast  # in place, atomically
    assert fast.read_bytes() == kept.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_other_formats_are_copied_byte_for_byte(tmp_path):
    src = tmp_path / "a.jpg"
    Image.fromarray(_texture()).save(src, quality=90)
    dst = save_kept(src, tmp_path / "b.jpg")
    assert dst.read_bytes() == src.read_bytes()
    assert save_kept(src, src).read_bytes() == dst.read_bytes()
