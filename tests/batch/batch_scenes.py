"""Tiny .blend files for the batch tests and bench: a textured plane or two per scene.

Functions take ``bpy`` so importing this module never imports Blender. Textures are
small PNGs beside the .blend, referenced by relative paths (as artists save them), so
the tests can check that the batch reads them in place and never changes them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from blender_scene import _material, _plane
from PIL import Image

COLOURS = ((200, 60, 40), (40, 160, 90), (50, 80, 210), (220, 200, 40))


def write_texture(path: Path, colour: tuple[int, int, int], size: int = 24) -> Path:
    """A small gradient PNG (a flat colour would stylize to a flat colour)."""
    image = Image.new("RGB", (size, size))
    image.putdata([(colour[0] * x // size, colour[1], colour[2] * y // size)
                   for y in range(size) for x in range(size)])
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def build_scene(bpy, blend: Path, index: int, planes: int = 1) -> Path:
    """``blend`` with ``planes`` textured planes; textures in ``<folder>/textures``."""
    bpy.ops.wm.read_homefile(use_empty=True)
    for n in range(planes):
        colour = COLOURS[(index + n) % len(COLOURS)]
        png = write_texture(blend.parent / "textures" / f"{blend.stem}_{n}.png", colour)
        mat, bsdf = _material(bpy, f"{blend.stem}_{n}")
        node = mat.node_tree.nodes.new("ShaderNodeTexImage")
        node.image = bpy.data.images.load(str(png))
        mat.node_tree.links.new(node.outputs["Color"], bsdf.inputs["Base Color"])
        _plane(bpy, f"Plane{n}", mat, 2.5 * n)
    blend.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), relative_remap=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    return blend


def write_corrupt(blend: Path) -> Path:
    """A file named .blend that is not one (a truncated download, say)."""
    blend.parent.mkdir(parents=True, exist_ok=True)
    blend.write_bytes(b"BLENDER-v500" + os.urandom(256))
    return blend


def make_read_only(folder: Path) -> None:
    """Files and folders read-only, like farm storage: any write to an input fails."""
    for path in sorted(folder.rglob("*"), reverse=True):
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    folder.chmod(folder.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def make_writable(folder: Path) -> None:
    """Undo ``make_read_only`` so pytest can delete its temp folders."""
    folder.chmod(folder.stat().st_mode | stat.S_IWUSR)
    for path in folder.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
