"""PNG reading of 16-bit colour, which Pillow alone truncates to 8 bits, and a PNG
writer for 8- and 16-bit samples that uses both cores.

Pillow decodes (inflates and unfilters) 16-bit PNGs in C but keeps only the
high byte of each sample. Decoding twice, once unpacking the big-endian high
bytes and once the low bytes, gives the exact 16-bit values at C speed.

Writing: Pillow filters and deflates a PNG on one core, which took as long as the
stylize itself for a 2048^2 texture. ``write_png`` picks each row's filter the way
libpng does (the least sum of absolute filtered bytes over the five PNG filters),
and deflates the top and bottom halves of the image in two threads (numpy and zlib
release the GIL) as one zlib stream: the first half ends in a sync flush, the
second continues it, and the checksum is combined (the way pigz splits a stream).
The file is an ordinary PNG, a little smaller than Pillow's at the same level.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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


#: Bytes of rows filtered at a time (a strip's five candidate filterings stay in cache).
_STRIP_BYTES = 1 << 18
#: Beyond this many pixels the halves are not deflated at once: the second half's output
#: would wait in memory while the first is written (8K textures keep their 1 GB bound).
_PARALLEL_PIXELS = 4096 * 4096
_ADLER_BASE = 65521


def write_png(path: Path, samples: np.ndarray, level: int = 6, icc_profile: bytes | None = None,
              dpi: tuple[float, float] | None = None) -> None:
    """Write uint8 or uint16 samples (H, W, C), C in 1..4, as a PNG (zlib ``level``)."""
    height, width, channels = samples.shape
    depth = 16 if samples.dtype == np.uint16 else 8
    rows = samples.reshape(height, -1)  # samples; a strip at a time becomes PNG bytes
    bpp = channels * depth // 8
    halves = 2 if height >= 64 and height * width <= _PARALLEL_PIXELS else 1
    bounds = [height * k // halves for k in range(halves + 1)]
    with open(path, "wb") as out:
        out.write(_SIGNATURE + _chunk(b"IHDR", struct.pack(
            ">IIBBBBB", width, height, depth, _COLOR_TYPES[channels], 0, 0, 0)))
        if icc_profile:
            out.write(_chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc_profile)))
        if dpi:
            per_metre = [round(float(d) / 0.0254) for d in dpi]
            out.write(_chunk(b"pHYs", struct.pack(">IIB", *per_metre, 1)))
        out.write(_chunk(b"IDAT", b"\x78\x9c"))  # the zlib header: deflate, default window

        def emit(data: bytes) -> None:
            if data:
                out.write(_chunk(b"IDAT", data))

        def half(k: int, sink: Callable[[bytes], None]) -> tuple[int, int]:
            return _deflate_rows(rows, bounds[k], bounds[k + 1], bpp, level, sink,
                                 last=k == halves - 1)

        if halves == 1:
            parts = [half(0, emit)]
        else:
            held: list[bytes] = []
            with ThreadPoolExecutor(1) as pool:
                second = pool.submit(half, 1, held.append)
                parts = [half(0, emit), second.result()]
            for data in held:
                emit(data)
        checksum, _ = parts[0]
        for adler, length in parts[1:]:
            checksum = _adler_concat(checksum, adler, length)
        emit(struct.pack(">I", checksum))
        out.write(_chunk(b"IEND", b""))


def _deflate_rows(rows: np.ndarray, top: int, bottom: int, bpp: int, level: int,
                  sink: Callable[[bytes], None], last: bool) -> tuple[int, int]:
    """Filter and raw-deflate rows ``top:bottom`` into ``sink``; ends in a sync flush unless
    ``last``. Returns the Adler-32 and the length of the filtered bytes."""
    # Z_FILTERED suits filtered rows: files about 5% smaller than Pillow's at the same level.
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 9, zlib.Z_FILTERED)
    adler, length = 1, 0
    step = max(1, _STRIP_BYTES // rows[0].nbytes)
    for start in range(top, bottom, step):
        stop = min(start + step, bottom)
        strip = _as_bytes(rows[max(0, start - 1) : stop])
        above = strip[0] if start > 0 else np.zeros(strip.shape[1], np.uint8)
        data = _filter(strip[1:] if start > 0 else strip, above, bpp).tobytes()
        adler, length = zlib.adler32(data, adler), length + len(data)
        sink(compressor.compress(data))
    sink(compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH))
    return adler, length


def _as_bytes(rows: np.ndarray) -> np.ndarray:
    """Rows of uint8 samples as they are, of uint16 samples as big-endian byte pairs."""
    if rows.dtype == np.uint8:
        return rows
    return rows.astype(">u2").view(np.uint8)


def _filter(rows: np.ndarray, above: np.ndarray, bpp: int) -> np.ndarray:
    """Each row with the PNG filter (none, sub, up, average, Paeth) whose bytes have the
    least sum of absolute values as signed bytes (libpng's heuristic), type byte first."""
    x = rows.astype(np.int16)
    up = np.concatenate([above[None].astype(np.int16), x[:-1]])
    left = np.zeros_like(x)
    left[:, bpp:] = x[:, :-bpp]
    upleft = np.zeros_like(x)
    upleft[:, bpp:] = up[:, :-bpp]
    guess = left + up - upleft
    near_left, near_up = np.abs(guess - left), np.abs(guess - up)
    near_upleft = np.abs(guess - upleft)
    paeth = np.where((near_left <= near_up) & (near_left <= near_upleft), left,
                     np.where(near_up <= near_upleft, up, upleft))
    candidates = np.stack([x, x - left, x - up, x - ((left + up) >> 1), x - paeth]).astype(np.uint8)
    cost = np.abs(candidates.view(np.int8)).sum(axis=2, dtype=np.int32)
    choice = cost.argmin(axis=0)
    out = np.empty((len(rows), rows.shape[1] + 1), np.uint8)
    out[:, 0] = choice
    out[:, 1:] = candidates[choice, np.arange(len(rows))]
    return out


def _adler_concat(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings one after the other, from each one's own.

    A = 1 + sum of bytes, B = sum of every prefix's A (mod 65521): appending a string
    of n bytes adds its A - 1 to A, and its B plus n * (A_first - 1) to B.
    """
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % _ADLER_BASE
    b = (b1 + b2 + second_length * (a1 - 1)) % _ADLER_BASE
    return b << 16 | a


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
