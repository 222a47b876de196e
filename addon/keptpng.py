"""Keep stylized PNGs compressed as Restyle always wrote them, though the worker writes fast.

The worker deflates job results at a quick zlib level: the add-on reloads them
at once, and most are scaled, packed or re-saved anyway. A file the user keeps
(next to the .blend, or packed into it) is re-deflated here at the usual level.
Only the zlib stream of the IDAT chunks changes: the filtered rows, every other
chunk and so every pixel stay exactly as the worker wrote them. Standard
library only; the pixels are streamed, never held whole.
"""

from __future__ import annotations

import os
import shutil
import struct
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

#: zlib level of the PNGs the user keeps: Pillow's default, what Restyle always wrote.
KEPT_PNG_LEVEL = 6
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IDAT_BYTES = 1 << 16  # payload of each re-written IDAT chunk


def _chunks(handle: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of every chunk after the signature."""
    while True:
        head = handle.read(8)
        if len(head) < 8:
            return
        length, kind = struct.unpack(">I4s", head)
        data = handle.read(length)
        handle.read(4)  # the CRC, recomputed on writing
        yield kind, data


def _write_chunk(out: BinaryIO, kind: bytes, data: bytes) -> None:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    out.write(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc))


def _recompress(src: Path, out: BinaryIO, level: int) -> None:
    inflate, deflate = zlib.decompressobj(), zlib.compressobj(level)
    pending, state = bytearray(), "before"  # before, in or after the IDAT chunks

    def emit(final: bool) -> None:
        while len(pending) >= _IDAT_BYTES or (final and pending):
            _write_chunk(out, b"IDAT", bytes(pending[:_IDAT_BYTES]))
            del pending[:_IDAT_BYTES]

    with open(src, "rb") as handle:
        out.write(handle.read(len(_SIGNATURE)))
        for kind, data in _chunks(handle):
            if kind == b"IDAT":
                pending += deflate.compress(inflate.decompress(data))
                emit(final=False)
                state = "in"
                continue
            if state == "in":  # the IDATs (always consecutive) are over: end the stream
                pending += deflate.flush()
                emit(final=True)
                state = "after"
            _write_chunk(out, kind, data)


def save_kept(src: Path, dst: Path, level: int = KEPT_PNG_LEVEL) -> Path:
    """Copy ``src`` to ``dst`` (``dst`` may be ``src``) atomically; a PNG is re-deflated
    at ``level``. Other formats are copied byte for byte."""
    src, dst = Path(src), Path(dst)
    with open(src, "rb") as handle:
        is_png = handle.read(len(_SIGNATURE)) == _SIGNATURE
    if not is_png:
        if src.resolve() != dst.resolve():
            shutil.copyfile(src, dst)
        return dst
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "wb") as out:
            _recompress(src, out, level)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst
