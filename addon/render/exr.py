"""A small reader for the scanline OpenEXR files Blender writes (standard library + numpy).

Blender's Python cannot hand us the pixels of a multilayer EXR (``Image.pixels`` is empty
for them) and the OpenEXR package is not part of a user's Blender, so the UV-pass renders
are decoded here. Only what our own renders produce is supported: single-part scanline
files with NONE, ZIPS or ZIP compression and HALF/FLOAT/UINT channels.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import AddonError

_MAGIC = 20000630
_DTYPES = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}
_LINES_PER_BLOCK = {0: 1, 2: 1, 3: 16}  # NONE, ZIPS, ZIP
_COMPRESSION_NAMES = {0: "NONE", 1: "RLE", 2: "ZIPS", 3: "ZIP", 4: "PIZ", 5: "PXR24",
                      6: "B44", 7: "B44A", 8: "DWAA", 9: "DWAB"}


class ExrError(AddonError):
    """The file is not an EXR this reader understands; the message names the file."""


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode("latin-1"), end + 1


def _channels(value: bytes) -> list[tuple[str, int]]:
    """Parse a ``chlist`` attribute into (name, pixel type) in file order."""
    out, pos = [], 0
    while value[pos] != 0:
        name, pos = _cstring(value, pos)
        (ptype,) = struct.unpack_from("<i", value, pos)
        xs, ys = struct.unpack_from("<ii", value, pos + 8)
        if (xs, ys) != (1, 1):
            raise ExrError(f"channel {name} is subsampled; only full-resolution channels read")
        out.append((name, ptype))
        pos += 16
    return out


def _unzip(block: bytes, expected: int) -> bytes:
    """Undo EXR's ZIP: zlib, then the byte predictor, then the two-halves interleave."""
    raw = np.frombuffer(zlib.decompress(block), dtype=np.uint8)
    if raw.size != expected:
        raise ExrError(f"ZIP block inflated to {raw.size} bytes, expected {expected}")
    diff = raw.astype(np.int64) - 128
    diff[0] = raw[0]
    flat = (np.cumsum(diff) & 0xFF).astype(np.uint8)
    half = (flat.size + 1) // 2
    out = np.empty_like(flat)
    out[0::2] = flat[:half]
    out[1::2] = flat[half:]
    return out.tobytes()


def _headers(data: bytes, path: Path, multipart: bool) -> tuple[list[dict], int]:
    """Parse the header (or, for multi-part files, every part's header); returns the end."""
    headers, pos = [], 8
    while True:
        header: dict[str, bytes] = {}
        while data[pos] != 0:
            name, pos = _cstring(data, pos)
            _kind, pos = _cstring(data, pos)
            (size,) = struct.unpack_from("<i", data, pos)
            header[name] = data[pos + 4:pos + 4 + size]
            pos += 4 + size
        pos += 1
        if header:
            kind = header.get("type", b"scanlineimage\0").rstrip(b"\0")
            if kind != b"scanlineimage":
                raise ExrError(f"{path}: part type {kind.decode()} is not supported; "
                               "only scanline images are read")
            headers.append(header)
        if not multipart or not header:
            return headers, pos


def read_exr(path: Path, wanted: list[str] | None = None) -> dict[str, np.ndarray]:
    """Channels of ``path`` (all parts) as float32 arrays (H, W), row 0 at the image top.

    ``wanted`` limits decoding to those channel names (all channels when None).
    """
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 8 or struct.unpack_from("<i", data, 0)[0] != _MAGIC:
        raise ExrError(f"{path} is not an OpenEXR file")
    flags = struct.unpack_from("<i", data, 4)[0]
    if flags & 0x200 or flags & 0x800:
        raise ExrError(f"{path}: tiled or deep EXR; re-render as a scanline EXR")
    multipart = bool(flags & 0x1000)
    headers, pos = _headers(data, path, multipart)
    parts = []
    for header in headers:
        compression = header["compression"][0]
        if compression not in _LINES_PER_BLOCK:
            name = _COMPRESSION_NAMES.get(compression, compression)
            raise ExrError(f"{path}: compression {name} is not supported; save the render "
                           "with ZIP, ZIPS or no compression")
        window = struct.unpack("<iiii", header["dataWindow"])
        lines = _LINES_PER_BLOCK[compression]
        blocks = -(-(window[3] - window[1] + 1) // lines)
        offsets = struct.unpack_from(f"<{blocks}Q", data, pos)
        pos += 8 * blocks
        parts.append((_channels(header["channels"]), window, lines, offsets))
    names = [n for channels, *_rest in parts for n, _t in channels]
    for name in wanted or ():
        if name not in names:
            raise ExrError(f"{path} has no channel {name!r} (it has {', '.join(names)})")
    keep = set(wanted) if wanted is not None else set(names)
    out: dict[str, np.ndarray] = {}
    for channels, window, lines, offsets in parts:
        if keep.intersection(n for n, _t in channels):
            _read_part(data, channels, window, lines, offsets, multipart, keep, out)
    return out


def _read_part(data: bytes, channels: list[tuple[str, int]], window: tuple[int, ...],
               lines: int, offsets: tuple[int, ...], multipart: bool, keep: set[str],
               out: dict[str, np.ndarray]) -> None:
    """Decode one part's scanline blocks into ``out`` (only the channels in ``keep``)."""
    x0, y0, x1, y1 = window
    width, height = x1 - x0 + 1, y1 - y0 + 1
    for name, _t in channels:
        if name in keep:
            out[name] = np.empty((height, width), np.float32)
    row_bytes = sum(_DTYPES[t].itemsize for _n, t in channels) * width
    skip = 4 if multipart else 0  # multi-part chunks start with their part number
    for offset in offsets:
        y, size = struct.unpack_from("<ii", data, offset + skip)
        count = min(lines, y1 - y + 1)
        start = offset + skip + 8
        block = data[start:start + size]
        if size < row_bytes * count:
            block = _unzip(block, row_bytes * count)
        at = 0
        for row in range(y - y0, y - y0 + count):
            for name, ptype in channels:
                dtype = _DTYPES[ptype]
                if name in keep:
                    out[name][row] = np.frombuffer(block, dtype, width, at)
                at += dtype.itemsize * width
