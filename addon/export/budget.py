"""Texture budget: export-time copies of the materials' images, resized and re-encoded.

The user's images (stylized or not) and their files are never touched: every image the
exported materials use is written to a temporary file (resized / converted, or its bytes
copied as they are when they already fit), loaded as a temporary datablock, swapped into
the image nodes for the duration of the export and swapped back in ``finally``.
Every exported image goes through a copy so its name in the file is the datablock's
name, which lets the report map file textures back to the scene's images.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ...core.export_formats import IMAGE_FORMATS
from ..names import file_stem
from ..shading import image_nodes, is_data_image
from .files import image_mime

ALPHA_DEPTHS = {32, 64, 128}  # bits per pixel of RGBA byte, half and float buffers
MIME_FORMAT = {fmt.mime: fmt.id for fmt in IMAGE_FORMATS.values()}


@dataclass(frozen=True)
class Budget:
    """What the headset can afford: biggest side, POT sizes, encoding."""

    max_size: int = 2048
    power_of_two: bool = False
    image_format: str = "JPEG"  # a key of ``export_formats.IMAGE_FORMATS``
    quality: int = 90


@dataclass
class TextureCopy:
    """One scene image and the temporary datablock exported in its place."""

    source: str
    source_size: tuple[int, int]
    size: tuple[int, int]
    image_format: str
    resized: bool
    reencoded: bool
    copy_name: str
    stem: str
    notes: list[str] = field(default_factory=list)


def fit_size(width: int, height: int, max_size: int, power_of_two: bool) -> tuple[int, int]:
    """Largest size within ``max_size`` keeping the aspect; optionally nearest power of two."""
    scale = min(1.0, max_size / max(width, height, 1))
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    if power_of_two:
        cap = 1 << (max(max_size, 1).bit_length() - 1)
        w, h = (min(cap, _nearest_pot(v)) for v in (w, h))
    return w, h


def _nearest_pot(value: int) -> int:
    """Nearest by ratio (384 -> 512, 360 -> 256): the scale factor is what shows."""
    lower = 1 << (value.bit_length() - 1)
    return lower * 2 if value * value >= 2 * lower * lower else lower


def is_pot(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def image_problem(image: bpy.types.Image) -> str | None:
    """Why ``image`` cannot be exported, or None. Checked before touching its pixels."""
    if image.source == "TILED":
        return "is a UDIM tile set, which glTF cannot hold; bake it to a single image"
    if image.source not in {"FILE", "GENERATED"}:
        return f"has source '{image.source}' (movie/sequence); use a still image"
    if image.source == "FILE" and image.packed_file is None:
        path = bpy.path.abspath(image.filepath, library=image.library)
        if not os.path.isfile(path):
            return f"file '{path}' is missing; relink or pack the image"
    if tuple(image.size) == (0, 0) and not image.has_data:
        return "has no pixels (could not be loaded)"
    return None


def _source_bytes(image: bpy.types.Image) -> bytes | None:
    """The encoded bytes behind an unmodified file image (packed or on disk), else None."""
    if image.source != "FILE" or image.is_dirty:
        return None
    if image.packed_file is not None:
        return bytes(image.packed_file.data)
    path = bpy.path.abspath(image.filepath, library=image.library)
    return Path(path).read_bytes() if os.path.isfile(path) else None


def _pixels(image: bpy.types.Image) -> np.ndarray:
    width, height = image.size
    pixels = np.empty(width * height * 4, np.float32)
    image.pixels.foreach_get(pixels)
    return pixels


def _working_copy(image: bpy.types.Image, size: tuple[int, int]) -> bpy.types.Image:
    """A scratch datablock with the image's current pixels at ``size`` (caller removes it)."""
    if image.source == "FILE" and image.packed_file is None and not image.is_dirty:
        work = image.copy()  # decodes the file in C: far faster than pixels via Python
    else:  # packed, generated or painted: take the pixels as they are in memory
        width, height = image.size
        work = bpy.data.images.new("restyle-export-work", width, height,
                                   alpha=image.depth in ALPHA_DEPTHS,
                                   float_buffer=image.is_float)
        if not image.is_float:
            work.colorspace_settings.name = image.colorspace_settings.name
        work.pixels.foreach_set(_pixels(image))
    if tuple(work.size) != size:
        work.scale(*size)
    return work


def _save(work: bpy.types.Image, quality: int) -> None:
    try:
        work.save(quality=quality)
    except TypeError:  # Blender builds whose Image.save() has no quality argument
        work.save()


def _uses_alpha(work: bpy.types.Image) -> bool:
    return work.depth in ALPHA_DEPTHS and bool(np.any(_pixels(work)[3::4] < 0.999))


def _prepare(image: bpy.types.Image, index: int, budget: Budget, workdir: Path,
             taken: set[str]) -> TextureCopy:
    """Write the export version of ``image`` into ``workdir/index/`` and describe it.

    ``taken``: the file names already chosen in this export (each texture gets its own).
    """
    width, height = image.size
    size = fit_size(width, height, budget.max_size, budget.power_of_two)
    fmt, notes = budget.image_format, []
    if fmt == "JPEG" and is_data_image(image):
        fmt = "PNG"
        notes.append("Non-Color data (normals, roughness...), kept lossless as PNG")
    work = None
    try:
        if fmt == "JPEG" and image.depth in ALPHA_DEPTHS:
            work = _working_copy(image, size)
            if _uses_alpha(work):
                fmt = "PNG"
                notes.append("has transparency, kept as PNG (JPEG has no alpha)")
        folder = workdir / str(index)
        folder.mkdir(parents=True)
        ext = IMAGE_FORMATS[fmt].suffix
        dest = folder / (file_stem(image.name, taken, ext) + ext)
        original = _source_bytes(image)
        reencode = not (original and MIME_FORMAT.get(image_mime(original)) == fmt
                        and size == (width, height))
        if reencode:
            work = work or _working_copy(image, size)
            work.filepath_raw = str(dest)
            work.file_format = fmt
            _save(work, budget.quality)
        else:
            dest.write_bytes(original)
    finally:
        if work is not None:
            bpy.data.images.remove(work)
    # The copy keeps the file's name: the glTF exporter names the texture after it.
    copy = bpy.data.images.load(str(dest), check_existing=False)
    try:
        copy.colorspace_settings.name = image.colorspace_settings.name
        copy.alpha_mode = image.alpha_mode
    except Exception:  # anything, a bug too: no stray copy in the user's file, then re-raise
        bpy.data.images.remove(copy)
        raise
    return TextureCopy(image.name, (width, height), size, fmt, size != (width, height),
                       reencode, copy.name, dest.stem, notes)


@contextmanager
def budget_textures(materials, budget: Budget, workdir: Path,
                    warnings: list[str]) -> Iterator[list[TextureCopy]]:
    """Swap budgeted copies into the image nodes of ``materials`` for the ``with`` body.

    Images that cannot be exported are left in place and reported in ``warnings``.
    On exit (also on error) every node gets its image back and the copies are removed.
    """
    swaps: list[tuple[bpy.types.Node, bpy.types.Image]] = []
    copies: dict[str, TextureCopy] = {}
    problems: set[str] = set()
    taken: set[str] = set()
    try:
        for mat, node in list(image_nodes(materials)):
            image = node.image
            if image is None:
                if any(out.is_linked for out in node.outputs):
                    warnings.append(f"Material '{mat.name}': image node '{node.name}' has no "
                                    "image (missing texture); assign one or remove the node")
                continue
            if image.name not in copies and image.name not in problems:
                problem = image_problem(image)
                if problem:
                    problems.add(image.name)
                    warnings.append(f"Texture '{image.name}' (material '{mat.name}') {problem}; "
                                    "it is left out of the export")
                    continue
                copies[image.name] = _prepare(image, len(copies), budget, workdir, taken)
            if image.name in copies:
                swaps.append((node, image))
                node.image = bpy.data.images[copies[image.name].copy_name]
        yield list(copies.values())
    finally:
        for node, image in reversed(swaps):
            node.image = image
        for record in copies.values():
            copy = bpy.data.images.get(record.copy_name)
            if copy is not None:
                bpy.data.images.remove(copy)
        shutil.rmtree(workdir, ignore_errors=True)
