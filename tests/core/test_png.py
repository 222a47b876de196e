"""The two-core PNG writer: exact pixels back, a valid zlib stream (checksum included),
metadata kept, and files no bigger than Pillow's at the same level."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.inference.imageio import KEPT_PNG_LEVEL
from core.inference.png import read_png16, write_png


def _texture(height: int, width: int, channels: int, dtype=np.uint8) -> np.ndarray:
    """Smooth gradients plus noise: what a stylized texture looks like to a PNG filter."""
    rng = np.random.default_rng(height * 31 + width + channels)
    y, x = np.mgrid[0:height, 0:width]
    top = np.iinfo(dtype).max
    base = (np.sin(x / 17.0)[..., None] + np.cos(y / 23.0)[..., None] + 2) / 4 * top
    noise = rng.normal(0, top / 60, (height, width, channels))
    return np.clip(base + noise, 0, top).astype(dtype)


def _idat(path: Path) -> bytes:
    data, blob, pos = b"", path.read_bytes(), 8
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos : pos + 4])
        if blob[pos + 4 : pos + 8] == b"IDAT":
            data += blob[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return data


@pytest.mark.parametrize(("height", "width", "channels"),
                         [(130, 77, 3), (96, 64, 4), (5, 9, 3), (70, 33, 1), (64, 40, 2)])
def test_eight_bit_round_trip(tmp_path, height, width, channels):
    samples = _texture(height, width, channels)
    path = tmp_path / "out.png"
    write_png(path, samples)
    back = np.asarray(Image.open(path))
    assert np.array_equal(back.reshape(samples.shape), samples)
    zlib.decompress(_idat(path))  # the one stream of both halves, Adler-32 checked


def test_sixteen_bit_round_trip_over_two_halves(tmp_path):
    samples = _texture(100, 60, 3, np.uint16)
    write_png(tmp_path / "deep.png", samples)
    assert np.array_equal(read_png16(tmp_path / "deep.png", 2), samples)
    zlib.decompress(_idat(tmp_path / "deep.png"))


def test_profile_and_resolution_are_kept(tmp_path):
    profile = Image.new("RGB", (1, 1)).info.get("icc_profile") or b"\0" * 128
    write_png(tmp_path / "meta.png", _texture(70, 50, 3), icc_profile=profile, dpi=(300, 300))
    with Image.open(tmp_path / "meta.png") as image:
        assert image.info["icc_profile"] == profile
        assert [round(d) for d in image.info["dpi"]] == [300, 300]


def test_kept_level_is_about_as_small_as_pillows_default(tmp_path):
    samples = _texture(512, 512, 3)
    write_png(tmp_path / "ours.png", samples, level=KEPT_PNG_LEVEL)
    Image.fromarray(samples).save(tmp_path / "pillow.png")
    ours, pillow = (tmp_path / "ours.png").stat().st_size, (tmp_path / "pillow.png").stat().st_size
    assert ours <= pillow * 1.02
