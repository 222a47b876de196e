"""Odd formats round-trip size, mode and bit depth through stylize_file; bad files fail clearly."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import OpenEXR
import pytest
from PIL import Image
from tiny_models import smooth_image, tiny_model, to_uint8

from core.errors import BadInput
from core.inference.imageio import load_image
from core.inference.png import write_png
from core.inference.stylize import StylizeSettings, stylize_file

H, W = 40, 56


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("model") / "tiny")


def _rgba8(seed=0):
    rng = np.random.default_rng(seed)
    alpha = rng.integers(0, 256, (H, W, 1), dtype=np.uint8)
    return np.concatenate([to_uint8(smooth_image(H, W, seed)), alpha], -1)


def _pillow(mode, name):
    def make(folder):
        image = Image.fromarray(_rgba8(), "RGBA")
        if mode == "P":
            image = image.convert("RGB").quantize(colors=32)
        elif mode == "I;16":
            grey = (smooth_image(H, W)[..., 0] * 65535).astype(np.uint16)
            image = Image.fromarray(grey)
        else:
            image = image.convert(mode)
        image.save(folder / name)
        return folder / name

    return make


def _png16(channels):
    def make(folder):
        rng = np.random.default_rng(channels)
        samples = rng.integers(0, 65536, (H, W, channels), dtype=np.uint16)
        samples[..., : min(channels, 3)] = (smooth_image(H, W)[..., : min(channels, 3)]
                                            * 65535).astype(np.uint16)
        write_png(folder / "deep.png", samples)
        return folder / "deep.png"

    return make


def _exr(colour, dtype):
    def make(folder):
        rng = np.random.default_rng(1)
        linear = smooth_image(H, W) ** 2.2
        channels = {c: linear[..., i].astype(dtype) for i, c in enumerate(colour)}
        channels["A"] = rng.random((H, W)).astype(dtype)
        channels["Z"] = rng.random((H, W)).astype(np.float32) * 100
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        OpenEXR.File(header, channels).write(str(folder / "t.exr"))
        return folder / "t.exr"

    return make


CASES = {
    "rgb8": (_pillow("RGB", "t.png"), "RGB"),
    "rgba8": (_pillow("RGBA", "t.png"), "RGBA"),
    "grey": (_pillow("L", "t.png"), "L"),
    "grey_alpha": (_pillow("LA", "t.png"), "LA"),
    "palette": (_pillow("P", "t.png"), "P"),
    "bilevel": (_pillow("1", "t.png"), "1"),
    "grey16": (_pillow("I;16", "t.png"), "I;16"),
    "jpeg": (_pillow("RGB", "t.jpg"), "RGB"),
    "cmyk_jpeg": (_pillow("CMYK", "t.jpg"), "CMYK"),
    "tiff_rgba": (_pillow("RGBA", "t.tif"), "RGBA"),
    "webp": (_pillow("RGB", "t.webp"), "RGB"),
    "tga": (_pillow("RGBA", "t.tga"), "RGBA"),
    "rgb16": (_png16(3), "RGB;16"),
    "rgba16": (_png16(4), "RGBA;16"),
    "grey_alpha16": (_png16(2), "LA;16"),
    "exr_half": (_exr("RGB", np.float16), "EXR"),
    "exr_float_grey": (_exr("Y", np.float32), "EXR;Y"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_formats_round_trip_size_mode_depth_and_alpha(case, model, tmp_path):
    make, mode = CASES[case]
    src = make(tmp_path)
    before = load_image(src)
    assert before.info.mode == mode
    dst = stylize_file(model, src, tmp_path / "out" / f"result{src.suffix}", StylizeSettings())
    after = load_image(dst)
    assert (after.info.width, after.info.height) == (W, H)
    assert (after.info.mode, after.info.bit_depth, after.info.format) == (
        before.info.mode, before.info.bit_depth, before.info.format)
    assert after.rgb.dtype == before.rgb.dtype
    if before.alpha is None:
        assert after.alpha is None
    else:
        assert after.alpha.dtype == before.alpha.dtype
        assert np.array_equal(after.alpha, before.alpha)  # bit-exact
    assert after.info.extra_channels.keys() == before.info.extra_channels.keys()
    for name, plane in before.info.extra_channels.items():
        assert np.array_equal(after.info.extra_channels[name], plane)


def test_sixteen_bit_png_keeps_sixteen_bit_precision(tmp_path):
    samples = np.arange(H * W * 3, dtype=np.uint16).reshape(H, W, 3) * 7
    write_png(tmp_path / "d.png", samples)
    loaded = load_image(tmp_path / "d.png")
    assert loaded.rgb.dtype == np.uint16 and np.array_equal(loaded.rgb, samples)


def _png_claiming(width, height, folder):
    """A tiny valid PNG whose header claims another size (a decompression bomb's trick)."""
    Image.new("RGB", (1, 1)).save(folder / "small.png")
    data = bytearray((folder / "small.png").read_bytes())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    (folder / "claim.png").write_bytes(bytes(data))
    return folder / "claim.png"


def _truncated(folder):
    Image.fromarray(to_uint8(smooth_image(64, 64))).save(folder / "cut.png")
    data = (folder / "cut.png").read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 2])
    return folder / "cut.png"


def _write(name, data):
    def make(folder):
        (folder / name).write_bytes(data)
        return folder / name

    return make


BAD = {
    "missing": (lambda d: d / "nope.png", "does not exist"),
    "folder": (lambda d: d, "is not a file"),
    "empty": (_write("e.png", b""), "is empty"),
    "not_an_image": (_write("n.png", b"hello, world"), "not an image format"),
    "corrupt": (_write("c.jpg", b"\xff\xd8\xff\xe0" + bytes(200)), "corrupt"),
    "truncated": (_truncated, "corrupt or truncated"),
    "bomb": (lambda d: _png_claiming(100_000, 100_000, d), "megapixels"),
    "huge": (lambda d: _png_claiming(20_000, 16_000, d), "over Restyle's limit"),
    "bad_exr": (_write("b.exr", b"\x76\x2f\x31\x01" + bytes(64)), "corrupt or truncated"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_inputs_name_the_file(case, tmp_path):
    make, message = BAD[case]
    path = make(tmp_path)
    with pytest.raises(BadInput, match=message) as error:
        load_image(path)
    assert str(path) in str(error.value)
