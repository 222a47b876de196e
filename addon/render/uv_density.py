"""Texel density per texture from Cycles UV-pass renders, and the stroke scale it implies.

Each sampled view is rendered once with Cycles at one sample (pixel filter shrunk so every
sample sits at the pixel centre) into a multilayer EXR holding the UV, Object Index and
Material Index passes. Per pixel, the Jacobian J = d(u,v)/d(x,y) from forward differences
(only between neighbours on the same object and material, so silhouettes and seams drop
out) gives sqrt(|det J| * width * height) texels per screen pixel for an image of that
size. A texture's density is the median over every pixel, in every view, that shows it.

A network stroke of s texels shows as s / (scale * density) screen pixels when the texture
is stylized at ``scale``; choosing scale = reference / (density * target) makes strokes
equally large on screen for every texture.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ..discovery import base_color_image_nodes, original_of
from ..shading import is_data_image, object_materials
from .exr import read_exr
from .views import View, render_scene, render_view

REFERENCE_WIDTH = 1024  # densities are reported in texels per pixel of a 1024-px-wide view
SCALE_RANGE = (0.25, 2.0)  # beyond this the net sees too little or too much context
_LAYER = "ViewLayer"  # the only view layer of the temporary render scene
_NEW_PASS_NAMES = bpy.app.version >= (5, 0, 0)  # 4.x writes IndexOB / IndexMA
_CHANNELS = {"u": "UV.U", "v": "UV.V", "a": "UV.A",
             "object": "Object Index.X" if _NEW_PASS_NAMES else "IndexOB.X",
             "material": "Material Index.X" if _NEW_PASS_NAMES else "IndexMA.X"}


@dataclass
class TextureDensity:
    """How densely one image is seen: texels per screen pixel at REFERENCE_WIDTH."""

    image: str
    density: float | None = None  # None when no sampled view shows the image
    pixels: int = 0  # screen pixels (at the analysis size) that show the image
    per_object: dict[str, float] = field(default_factory=dict)
    scale: float = 1.0  # the StylizeSettings.scale chosen for it


def colour_images(material: bpy.types.Material) -> list[bpy.types.Image]:
    """The original colour images the add-on stylizes for ``material`` (its discovery)."""
    images = {}
    for node in base_color_image_nodes(material):
        image = original_of(node.image)
        if not is_data_image(image):
            images[image.name] = image
    return list(images.values())


@contextmanager
def _pass_indices(objects: Sequence, materials: Sequence) -> Iterator[None]:
    """Number objects and materials 1..N for the index passes; restore the user's values."""
    saved = [(item, item.pass_index) for item in (*objects, *materials)]
    try:
        for i, obj in enumerate(objects, 1):
            obj.pass_index = i
        for i, mat in enumerate(materials, 1):
            mat.pass_index = i
        yield
    finally:
        for item, value in saved:
            item.pass_index = value


def _use_uv_passes(tmp: bpy.types.Scene) -> None:
    """Cycles, one centred sample, UV + index passes, 32-bit multilayer EXR (ZIP)."""
    tmp.render.engine = "CYCLES"
    tmp.cycles.device = "CPU"
    tmp.cycles.samples = 1
    tmp.cycles.use_adaptive_sampling = False
    tmp.cycles.use_denoising = False
    tmp.cycles.filter_width = 0.01
    tmp.cycles.max_bounces = 0
    layer = tmp.view_layers[0]
    layer.name = _LAYER
    layer.use_pass_uv = layer.use_pass_object_index = layer.use_pass_material_index = True
    settings = tmp.render.image_settings
    if hasattr(settings, "media_type"):  # Blender 5.0+: pick multilayer before the format
        settings.media_type = "MULTI_LAYER_IMAGE"
    settings.file_format = "OPEN_EXR_MULTILAYER"
    settings.color_depth = "32"
    settings.exr_codec = "ZIP"


def pixel_densities(channels: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Per-pixel sqrt|det J| (UV units per pixel) with each pixel's object/material index.

    Returns (density, object_index, material_index) for the pixels whose right and lower
    neighbours show the same object and material.
    """
    u, v, a = channels["u"], channels["v"], channels["a"]
    ob, ma = np.rint(channels["object"]), np.rint(channels["material"])
    here = (slice(None, -1), slice(None, -1))
    right = (slice(None, -1), slice(1, None))
    below = (slice(1, None), slice(None, -1))
    ok = (a[here] > 0.5) & (a[right] > 0.5) & (a[below] > 0.5)
    for idx in (ob, ma):
        ok &= (idx[here] == idx[right]) & (idx[here] == idx[below])
    dux, dvx = u[right] - u[here], v[right] - v[here]
    duy, dvy = u[below] - u[here], v[below] - v[here]
    root = np.sqrt(np.abs(dux * dvy - duy * dvx))
    ok &= root > 0
    return root[ok], ob[here][ok].astype(int), ma[here][ok].astype(int)


def _read_passes(path: Path) -> dict[str, np.ndarray]:
    names = {key: f"{_LAYER}.{suffix}" for key, suffix in _CHANNELS.items()}
    raw = read_exr(path, list(names.values()))
    return {key: raw[name] for key, name in names.items()}


@dataclass
class DensitySamples:
    """Per-pixel densities gathered view by view, per image and per (image, object)."""

    per_image: dict[str, list[np.ndarray]] = field(default_factory=dict)
    per_object: dict[tuple[str, str], list[np.ndarray]] = field(default_factory=dict)

    def densities(self) -> list[TextureDensity]:
        """The median density of every image seen so far (and per object), by name."""
        result = {}
        for name, chunks in self.per_image.items():
            values = np.concatenate(chunks)
            entry = TextureDensity(name, pixels=int(values.size))
            if values.size:
                entry.density = float(np.median(values))
            result[name] = entry
        for (name, obj_name), chunks in self.per_object.items():
            values = np.concatenate(chunks)
            if values.size:
                result[name].per_object[obj_name] = float(np.median(values))
        return sorted(result.values(), key=lambda d: d.image)


def measure_view(scene: bpy.types.Scene, view: View, path: Path, samples: DensitySamples,
                 longest: int = 256, images_of=colour_images) -> None:
    """Render one view's UV passes to ``path`` and add its pixels' densities to ``samples``.

    ``images_of(material)`` lists a material's colour images (the add-on's texture
    discovery); images are keyed by datablock name. The scene is left as it was.
    """
    objects = [o for o in scene.objects if o.type == "MESH" and not o.hide_render]
    materials = sorted(object_materials(objects), key=lambda m: m.name)
    images = {i: [(img.name, img.size[0] * img.size[1]) for img in images_of(m)
                  if img.size[0] > 0] for i, m in enumerate(materials, 1)}
    with render_scene(scene) as tmp, _pass_indices(objects, materials):
        _use_uv_passes(tmp)
        render_view(tmp, view, path, longest)
        to_reference = tmp.render.resolution_x / REFERENCE_WIDTH
    root, ob, ma = pixel_densities(_read_passes(path))
    for mat_index, entries in images.items():
        chosen = ma == mat_index
        for name, texels in entries:
            values = root[chosen] * math.sqrt(texels) * to_reference
            samples.per_image.setdefault(name, []).append(values)
            for obj_index in np.unique(ob[chosen]):
                if 0 < obj_index <= len(objects):
                    key = (name, objects[obj_index - 1].name)
                    samples.per_object.setdefault(key, []).append(values[ob[chosen] == obj_index])


def estimate_densities(scene: bpy.types.Scene, views: Sequence[View], out_dir: Path,
                       longest: int = 256, images_of=colour_images
                       ) -> list[TextureDensity]:
    """Texel density of every colour texture the views show (UV-pass renders in ``out_dir``)."""
    samples = DensitySamples()
    for i, view in enumerate(views):
        measure_view(scene, view, Path(out_dir) / f"uv_{i:02d}.exr", samples, longest, images_of)
    return samples.densities()


def choose_scales(densities: Sequence[TextureDensity], target: float = 1.0,
                  limits: tuple[float, float] = SCALE_RANGE) -> dict[str, float]:
    """Per-image stylize scale so strokes cover the same screen size on every texture.

    The reference density is the pixel-weighted geometric mean over all seen textures, so
    the typical texture, and any texture no view shows, gets scale 1/target. Larger ``target``
    means larger strokes on screen. A scale above 1 shrinks strokes in texel space; marks
    already near 2 texels wide cannot shrink further (they alias away when the result is
    resampled back), so for very fine styles raise ``target`` to keep scales at or below 1.
    """
    seen = [d for d in densities if d.density]
    if not seen:
        return {d.image: 1.0 for d in densities}
    weights = np.array([d.pixels for d in seen], float)
    logs = np.log([d.density for d in seen])
    reference = math.exp(float(np.average(logs, weights=weights)))
    for d in densities:
        raw = (reference / d.density if d.density else 1.0) / target
        d.scale = float(min(max(raw, limits[0]), limits[1]))
    return {d.image: d.scale for d in densities}
