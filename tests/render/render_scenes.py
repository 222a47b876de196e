"""Helpers for the render tests: a two-plane scene whose texel densities differ 4x.

Pure functions (views, texel density, EXR reading) are imported from the source tree
(``restyle.addon.render``, see ``extension_package``) after the shared ``bpy_module``
fixture imported bpy, so they are tested even without the whole add-on registered;
operators go through the installed extension. (No conftest.py here: a second
``conftest`` module would shadow the shared one.)
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

PLANE_X = 1.1  # planes of size 2 centred at -1.1 and +1.1
TEX_SIZE = 128
UV_FACTOR = 4.0


def render_modules(bpy) -> dict:
    """``addon.render`` submodules from the source tree, after emptying the scene."""
    bpy.ops.wm.read_homefile(use_empty=True)
    names = ("exr", "views", "uv_density", "content")
    return {n: importlib.import_module(f"restyle.addon.render.{n}") for n in names}


def write_texture(bpy, path: Path, size: int = TEX_SIZE, grain: float = 0.0) -> Path:
    """A tileable texture of a few low-frequency waves, plus seeded per-texel noise of
    amplitude ``grain``: detail one texel across for a model to act on."""
    y, x = np.mgrid[0:size, 0:size] / size
    rgb = np.stack([0.55 + 0.2 * np.sin(2 * math.pi * x) * np.cos(2 * math.pi * y),
                    0.45 + 0.2 * np.cos(2 * math.pi * (x + y)),
                    0.35 + 0.15 * np.sin(4 * math.pi * y)], -1)
    rgb = rgb + grain * np.random.default_rng(0).uniform(-1.0, 1.0, rgb.shape)
    rgba = np.concatenate([rgb, np.ones((size, size, 1))], -1)[::-1]  # Blender rows: bottom up
    img = bpy.data.images.new(path.stem + "_tmp", size, size)
    img.pixels.foreach_set(rgba.astype(np.float32).ravel())
    img.filepath_raw = str(path)
    img.file_format = "PNG"
    img.save()
    bpy.data.images.remove(img)
    return path


def _material(bpy, name: str, image):
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True
    tex = mat.node_tree.nodes.new("ShaderNodeTexImage")
    tex.image = image
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    mat.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    return mat


def _plane(bpy, name: str, x: float, uv_factor: float, mat):
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([(-1, -1, 0), (1, -1, 0), (1, 1, 0), (-1, 1, 0)], [], [(0, 1, 2, 3)])
    uvs = mesh.uv_layers.new(name="UVMap")
    for loop, (u, v) in zip(uvs.data, [(0, 0), (1, 0), (1, 1), (0, 1)], strict=True):
        loop.uv = (u * uv_factor, v * uv_factor)
    mesh.materials.append(mat)
    obj = bpy.data.objects.new(name, mesh)
    obj.location = (x, 0.0, 0.0)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def build_two_planes(bpy, tex_path: Path, shared: bool, width: int = 512) -> dict:
    """Planes ``Wide`` (UVs 0..1) and ``Dense`` (UVs x4) under a top orthographic camera.

    ``shared``: both materials use one image datablock; otherwise each plane has its own
    datablock of the same file (so each can be stylized at its own scale).
    """
    scene = bpy.context.scene
    first = bpy.data.images.load(str(tex_path), check_existing=False)
    second = first if shared else bpy.data.images.load(str(tex_path), check_existing=False)
    wide = _plane(bpy, "Wide", -PLANE_X, 1.0, _material(bpy, "WideMat", first))
    dense = _plane(bpy, "Dense", PLANE_X, UV_FACTOR, _material(bpy, "DenseMat", second))
    cam = bpy.data.cameras.new("TopCam")
    cam.type, cam.ortho_scale = "ORTHO", 4.6
    cam_obj = bpy.data.objects.new("TopCam", cam)
    cam_obj.location = (0.0, 0.0, 5.0)
    scene.collection.objects.link(cam_obj)
    scene.camera = cam_obj
    scene.render.resolution_x, scene.render.resolution_y = width, width // 2
    return {"wide": wide, "dense": dense, "images": (first, second), "camera": cam_obj}


def plane_box(width: int, x_center: float, inset: float = 0.12) -> tuple[slice, slice]:
    """Pixel rows/cols of a plane's screen square (minus an inset) in the top view.

    The orthographic camera spans 4.6 units over ``width`` pixels, centred on x = 0.
    """
    px = width / 4.6
    half = (1.0 - inset) * px
    cx, cy = width / 2 + x_center * px, width / 4
    return slice(round(cy - half), round(cy + half)), slice(round(cx - half), round(cx + half))


# --------------------------------------------------------------------------- stroke size

def load_rgb(path: Path) -> np.ndarray:
    """An 8-bit image file as float (H, W, 3) in 0..1, row 0 at the top (as on screen)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def added_texture(stylized: np.ndarray, plain: np.ndarray) -> np.ndarray:
    """What stylization added beyond a colour mapping: the stylized luminance minus its
    best affine fit from the plain render's RGB (removes the style's global recolouring,
    which follows the content, and keeps the strokes)."""
    lum = stylized @ np.array([0.299, 0.587, 0.114], np.float32)
    design = np.concatenate([plain.reshape(-1, 3), np.ones((lum.size, 1), np.float32)], 1)
    coef, *_ = np.linalg.lstsq(design, lum.reshape(-1), rcond=None)
    return (lum.reshape(-1) - design @ coef).reshape(lum.shape)


def stroke_wavelength(residual: np.ndarray, longest: float = 32.0) -> float:
    """Stroke size in screen pixels: the power-weighted mean wavelength of ``residual``.

    The residual is Hann-windowed (no edge leakage) and its 2D power spectrum is
    averaged over frequencies f (cycles/px) from 1/``longest`` to Nyquist; the result is
    1 / (sum P f / sum P). Wavelengths above ``longest`` are content, not strokes.
    """
    r = residual - residual.mean()
    h, w = r.shape
    power = np.abs(np.fft.fft2(r * np.outer(np.hanning(h), np.hanning(w)))) ** 2
    freq = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    band = (freq >= 1.0 / longest) & (freq <= 0.5)
    return float(power[band].sum() / (power[band] * freq[band]).sum())
