"""16-bit colour PNG read/write, which Pillow alone truncates to 8 bits.

Pillow decodes (inflates and unfilters) 16-bit PNGs in C but keeps only the
high byte of each sample. Decoding twice, once unpacking the big-endian high
bytes and once the low bytes, gives the exact 16-bit values at C speed.
Writing is a plain PNG encoder (filter 0 rows, streamed through zlib).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type


def png_header(path: Path) -> tuple[int, int] | None:
    """(bit depth, colour type) of a PNG file, or None for other files."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    if len(head) < 26 or not head.startswith(_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _decode(path: Path, rawmode: str) -> np.ndarray:
    with Image.open(path) as image:
        image.tile = [tile._replace(args=rawmode) for tile in image.tile]
        return np.asarray(image)


def read_png16(path: Path, color_type: int) -> np.ndarray:
    """The samples of a 16-bit grey+alpha, RGB or RGBA PNG as uint16 (H, W, C)."""
    if color_type == 4:  # grey+alpha: 4 bytes a pixel, read as 8-bit RGBA bytes
        raw = _decode(path, "RGBA").astype(np.uint16)
        return np.stack([raw[..., 0] << 8 | raw[..., 1], raw[..., 2] << 8 | raw[..., 3]], -1)
    rawmode = "RGB" if color_type == 2 else "RGBA"
    high = _decode(path, f"{rawmode};16B").astype(np.uint16)
    high <<= 8
    high |= _decode(path, f"{rawmode};16L")  # little-endian unpack takes the second byte
    return high


def write_png16(path: Path, samples: np.ndarray, level: int = 6) -> None:
    """Write uint16 samples (H, W, C) with C in 1..4 as a 16-bit PNG (zlib ``level``)."""
    height, width, channels = samples.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 16, _COLOR_TYPES[channels], 0, 0, 0)
    compressor = zlib.compressobj(level)
    with open(path, "wb") as out:
        out.write(_SIGNATURE + chunk(b"IHDR", header))
        rows_per_chunk = max(1, (1 << 22) // max(1, width * channels * 2))
        for top in range(0, height, rows_per_chunk):
            block = samples[top : top + rows_per_chunk].astype(">u2").reshape(-1, width * channels)
            lines = np.zeros((block.shape[0], 1 + width * channels * 2), np.uint8)
            lines[:, 1:] = block.view(np.uint8)  # leading 0 = filter type None
            data = compressor.compress(lines.tobytes())
            if data:
                out.write(chunk(b"IDAT", data))
        out.write(chunk(b"IDAT", compressor.flush()) + chunk(b"IEND", b""))
