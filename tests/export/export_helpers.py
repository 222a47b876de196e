"""Helpers for the VR export tests (real bpy, real files, real validator).

Until a test runs the add-on's own stylizer, ``stylized_scene`` makes the stylized
images the way the add-on stores them: ``<original>.restyle`` datablocks loaded from
real files (here: a PIL colour transform of the originals), with the material image
nodes switched to them and the originals kept as separate datablocks.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / ".venv" / "node" / "node_modules" / "gltf-validator"
VALIDATE_SCRIPT = ROOT / "scripts" / "validate_gltf.mjs"


def image_to_pil(image) -> Image.Image:
    """A byte image's pixels as PIL RGB (exact: byte images store value/255)."""
    width, height = image.size
    pixels = np.empty(width * height * 4, np.float32)
    image.pixels.foreach_get(pixels)
    rgb = (pixels.reshape(height, width, 4)[::-1, :, :3] * 255).round().astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def stylize_pil(image: Image.Image, dst: Path) -> Path:
    """A visibly different "stylized" image with the same size (inverted, channel-rolled)."""
    r, g, b = ImageOps.invert(image.convert("RGB")).split()
    Image.merge("RGB", (g, b, r)).save(dst)
    return dst


def stylize_images(bpy, names: list[str], folder: Path) -> dict[str, Path]:
    """Write ``<name>.restyle.png`` for each image and point the materials at them."""
    folder.mkdir(parents=True, exist_ok=True)
    stylized: dict[str, Path] = {}
    for name in names:
        original = bpy.data.images[name]
        path = stylize_pil(image_to_pil(original), folder / f"{name}.restyle.png")
        image = bpy.data.images.load(str(path), check_existing=False)
        image.name = f"{name}.restyle"
        image["restyle_original"] = original  # as the add-on's write-back stores it
        for mat in bpy.data.materials:
            if mat.node_tree is None:
                continue
            for node in mat.node_tree.nodes:
                if node.type == "TEX_IMAGE" and node.image == original:
                    node.image = image
        stylized[image.name] = path
    return stylized


# ------------------------------------------------------------------ scene snapshots

def _pixels_digest(image) -> str:
    if not image.has_data and tuple(image.size) == (0, 0):
        return "no-data"
    pixels = np.empty(image.size[0] * image.size[1] * 4, np.float32)
    image.pixels.foreach_get(pixels)
    return hashlib.sha256(pixels.tobytes()).hexdigest()


def scene_snapshot(bpy) -> dict:
    """Everything an export must leave alone: images, materials, links, slots."""
    images = {}
    for img in bpy.data.images:
        missing = img.source == "FILE" and img.packed_file is None and not Path(
            bpy.path.abspath(img.filepath)).is_file()
        images[img.name] = {
            "filepath": img.filepath, "source": img.source,
            "size": None if missing else tuple(img.size),
            "pixels": "missing" if missing else _pixels_digest(img),
            "packed": img.packed_file is not None, "colorspace": img.colorspace_settings.name,
        }
    trees = {}
    owned = [(f"material:{m.name}", m.node_tree) for m in bpy.data.materials if m.node_tree]
    for key, tree in owned + [(f"group:{g.name}", g) for g in bpy.data.node_groups]:
        trees[key] = {
            "nodes": sorted((n.name, n.bl_idname, getattr(getattr(n, "image", None), "name",
                                                          None)) for n in tree.nodes),
            "links": sorted((lk.from_node.name, lk.from_socket.identifier, lk.to_node.name,
                             lk.to_socket.identifier) for lk in tree.links),
        }
    slots = {o.name: [s.material.name if s.material else None for s in o.material_slots]
             for o in bpy.data.objects}
    return {"images": images, "materials": sorted(m.name for m in bpy.data.materials),
            "trees": trees, "slots": slots}


def file_digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (the user's textures on disk)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ file checks

def validate_gltf(path: Path) -> dict:
    """The Khronos validator's JSON report for ``path`` (skips if it is not installed)."""
    if shutil.which("node") is None or not VALIDATOR.is_dir():
        pytest.skip("node or the gltf-validator npm package is missing: run scripts/bootstrap.sh")
    done = subprocess.run(["node", str(VALIDATE_SCRIPT), str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_valid(path: Path) -> dict:
    """Zero validator errors, with the messages in the failure text."""
    report = validate_gltf(path)
    errors = [m for m in report["issues"]["messages"] if m["severity"] == 0]
    assert report["issues"]["numErrors"] == 0, errors
    return report


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def expected_pixels(stylized_file: Path, size: tuple[int, int]) -> np.ndarray:
    """The stylized file after the budget's resize (Blender's scale is close to HAMMING)."""
    image = Image.open(stylized_file).convert("RGB")
    if image.size != size:
        image = image.resize(size, Image.HAMMING)
    return np.asarray(image, dtype=np.float32)


def mean_abs_diff(a: Image.Image | np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float32) - b).mean())


def read_gltf(path: Path) -> tuple[dict, dict[str, bytes]]:
    """glTF JSON and its images by name, parsed here independently of the add-on's reader."""
    data = path.read_bytes()
    binary = b""
    if data[:4] == b"glTF":
        json_len = struct.unpack_from("<I", data, 12)[0]
        doc = json.loads(data[20 : 20 + json_len])
        if len(data) > 20 + json_len:
            bin_len = struct.unpack_from("<I", data, 20 + json_len)[0]
            binary = data[28 + json_len : 28 + json_len + bin_len]
    else:
        doc = json.loads(data)
    images = {}
    for image in doc.get("images", []):
        if "bufferView" in image:
            view = doc["bufferViews"][image["bufferView"]]
            start = view.get("byteOffset", 0)
            images[image["name"]] = binary[start : start + view["byteLength"]]
        else:
            images[image["name"]] = (path.parent / image["uri"]).read_bytes()
    return doc, images
