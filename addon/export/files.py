"""Read exported files back (GLB, glTF, USDZ) without bpy or PIL.

The export report must describe what is really in the file, not what we asked the
exporter for, so it re-reads the written file. Blender's Python has no PIL, hence the
tiny header parsers for image sizes.
"""

from __future__ import annotations

import base64
import json
import struct
import zipfile
from pathlib import Path
from urllib.parse import unquote

GLB_MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def read_gltf(path: Path) -> tuple[dict, bytes | None]:
    """The glTF JSON document and the GLB binary chunk (None for a .gltf file)."""
    data = Path(path).read_bytes()
    if data[:4] != GLB_MAGIC:
        return json.loads(data.decode("utf-8")), None
    _magic, _version, total = struct.unpack_from("<III", data, 0)
    doc, binary, offset = None, None, 12
    while offset < total:
        length, kind = struct.unpack_from("<II", data, offset)
        chunk = data[offset + 8 : offset + 8 + length]
        if kind == CHUNK_JSON:
            doc = json.loads(chunk.decode("utf-8"))
        elif kind == CHUNK_BIN and binary is None:
            binary = bytes(chunk)
        offset += 8 + length
    if doc is None:
        raise ValueError(f"{path}: GLB file has no JSON chunk")
    return doc, binary


def image_bytes(doc: dict, binary: bytes | None, index: int, base_dir: Path) -> bytes:
    """The encoded bytes of glTF image ``index`` (buffer view, data URI or file beside it)."""
    image = doc["images"][index]
    if "bufferView" in image:
        view = doc["bufferViews"][image["bufferView"]]
        buffer = doc["buffers"][view["buffer"]]
        blob = binary if "uri" not in buffer else _uri_bytes(buffer["uri"], base_dir)
        start = view.get("byteOffset", 0)
        return blob[start : start + view["byteLength"]]
    return _uri_bytes(image["uri"], base_dir)


def _uri_bytes(uri: str, base_dir: Path) -> bytes:
    if uri.startswith("data:"):
        return base64.b64decode(uri.split(",", 1)[1])
    return (base_dir / unquote(uri)).read_bytes()


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of PNG, JPEG or WebP bytes; (0, 0) if the format is unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return struct.unpack(">II", data[16:24])
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    return 0, 0


def _jpeg_size(data: bytes) -> tuple[int, int]:
    offset = 2
    while offset + 9 < len(data):
        if data[offset] != 0xFF:
            offset += 1
            continue
        marker = data[offset + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            offset += 2
            continue
        length = struct.unpack(">H", data[offset + 2 : offset + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return width, height
        offset += 2 + length
    return 0, 0


def _webp_size(data: bytes) -> tuple[int, int]:
    kind = data[12:16]
    if kind == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if kind == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return 0, 0


def image_mime(data: bytes) -> str:
    """MIME type from the magic number (what an engine will actually decode)."""
    if data[:4] == b"\x89PNG":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def usdz_textures(path: Path) -> dict[str, bytes]:
    """Image files inside a .usdz package (a zip), by their name inside the package."""
    with zipfile.ZipFile(path) as package:
        return {
            info.filename: package.read(info)
            for info in package.infolist()
            if info.filename.lower().endswith(IMAGE_SUFFIXES)
        }
