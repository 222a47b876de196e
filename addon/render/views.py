"""Views of the scene (active camera, viewport, cameras placed around the bounds) and renders.

Every render happens in a temporary scene that links the user's objects and collections,
so the user's render settings, camera and passes are never touched: a failed or cancelled
render leaves the .blend exactly as it was. Engines are Cycles at a few samples or
Workbench with textured colour (both work headless); never EEVEE.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bpy
from mathutils import Matrix, Vector

from ..errors import AddonError
from ..shading import has_geometry

ENGINES = ("CYCLES", "WORKBENCH")
VIEWPORT_SENSOR = 72.0  # the 3D viewport's lens is relative to a 72 mm sensor
_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))


@dataclass
class View:
    """One viewpoint: an existing camera object, or a world matrix for a temporary camera."""

    name: str
    camera: bpy.types.Object | None = None
    matrix: Matrix | None = None
    lens: float = 50.0
    sensor: float = 36.0
    ortho_scale: float | None = None  # set for orthographic views
    aspect: float = 1.0  # width / height of the image


def render_size(aspect: float, longest: int) -> tuple[int, int]:
    """Pixel size whose longest side is ``longest`` for a width/height ``aspect``."""
    if aspect >= 1.0:
        return longest, max(1, round(longest / aspect))
    return max(1, round(longest * aspect)), longest


def renderable_objects(objects: Sequence) -> list:
    """The geometry among ``objects`` that renders show (not hidden from renders)."""
    return [o for o in objects if has_geometry(o) and not o.hide_render]


def bounds(objects: Sequence) -> tuple[Vector, float]:
    """Centre and radius of the world-space bounding boxes of ``objects``."""
    corners = [o.matrix_world @ Vector(c) for o in objects for c in o.bound_box]
    if not corners:
        raise AddonError("the scene has no visible geometry to render; add or unhide objects")
    lo = Vector(tuple(min(c[i] for c in corners) for i in range(3)))
    hi = Vector(tuple(max(c[i] for c in corners) for i in range(3)))
    return (lo + hi) / 2.0, max((hi - lo).length / 2.0, 1e-3)


def look_at(eye: Vector, target: Vector) -> Matrix:
    """Camera world matrix at ``eye`` looking at ``target`` with +Z up."""
    rot = (target - eye).to_track_quat("-Z", "Y").to_matrix().to_4x4()
    return Matrix.Translation(eye) @ rot


def orbit_views(center: Vector, radius: float, count: int, aspect: float = 1.0,
                lens: float = 50.0, sensor: float = 36.0) -> list[View]:
    """``count`` cameras spread around a sphere's upper half, each framing the whole sphere.

    Azimuths follow the golden angle (no two views line up however many there are) and
    elevations sweep 15..55 degrees, the range from which an artist looks at a scene.
    """
    half_fov = math.atan(sensor / 2.0 / lens)
    if aspect < 1.0:  # the sensor spans the width; a tall image is narrower
        half_fov = math.atan(math.tan(half_fov) * aspect)
    distance = radius / math.sin(half_fov) * 1.05
    views = []
    for i in range(count):
        azimuth = math.radians(35.0) + i * _GOLDEN_ANGLE
        elevation = math.radians(15.0 + 40.0 * ((i * 0.618034) % 1.0))
        eye = center + distance * Vector((math.cos(elevation) * math.cos(azimuth),
                                          math.cos(elevation) * math.sin(azimuth),
                                          math.sin(elevation)))
        views.append(View(f"orbit_{i:02d}", matrix=look_at(eye, center), lens=lens,
                          sensor=sensor, aspect=aspect))
    return views


def camera_view(scene: bpy.types.Scene) -> View:
    """The active camera, with the scene's output aspect; a clear error when there is none."""
    if scene.camera is None:
        raise AddonError(f"scene '{scene.name}' has no active camera; add a camera or run "
                         "this from a 3D viewport")
    r = scene.render
    aspect = (r.resolution_x * r.pixel_aspect_x) / max(1.0, r.resolution_y * r.pixel_aspect_y)
    return View(scene.camera.name, camera=scene.camera, aspect=aspect)


def viewport_view(context: bpy.types.Context) -> View | None:
    """The current 3D viewport as a view (None outside a 3D viewport, e.g. headless)."""
    space, area = context.space_data, context.area
    if space is None or space.type != "VIEW_3D" or area is None or space.region_3d is None:
        return None
    rv3d = space.region_3d
    window = next((r for r in area.regions if r.type == "WINDOW"), None)
    aspect = window.width / max(1, window.height) if window is not None else 1.0
    if rv3d.view_perspective == "CAMERA" and context.scene.camera is not None:
        return camera_view(context.scene)  # looking through the camera: its frame
    matrix = rv3d.view_matrix.inverted()
    if rv3d.is_perspective:
        return View("viewport", matrix=matrix, lens=space.lens, sensor=VIEWPORT_SENSOR,
                    aspect=aspect)
    ortho = rv3d.view_distance * VIEWPORT_SENSOR / space.lens
    return View("viewport", matrix=matrix, ortho_scale=ortho, aspect=aspect)


def training_views(scene: bpy.types.Scene, count: int, objects: Sequence | None = None,
                   aspect: float = 1.0) -> list[View]:
    """The active camera (when there is one) plus orbit views up to ``count`` in total.

    The orbit views frame ``objects`` (the run's objects; the whole scene when None).
    """
    views = [camera_view(scene)] if scene.camera is not None and count > 0 else []
    extra = count - len(views)
    if extra > 0:
        chosen = renderable_objects(scene.objects if objects is None else objects)
        center, radius = bounds(chosen or renderable_objects(scene.objects))
        views += orbit_views(center, radius, extra, aspect)
    return views


def _neutral_world() -> bpy.types.World:
    """A plain white sky so a scene without a world still shows its textures in Cycles."""
    world = bpy.data.worlds.new("restyle_neutral_world")
    world["restyle_temp_world"] = True
    world.color = (1.0, 1.0, 1.0)
    if bpy.app.version < (5, 0, 0):
        world.use_nodes = True
    background = next((n for n in world.node_tree.nodes if n.type == "BACKGROUND"), None)
    if background is not None:
        background.inputs["Color"].default_value = (1.0, 1.0, 1.0, 1.0)
    return world


def _mirror_exclusion(src, dst) -> None:
    """Exclude in ``dst`` the layer collections excluded in ``src`` (matched by name)."""
    by_name = {child.name: child for child in dst.children}
    for child in src.children:
        twin = by_name.get(child.name)
        if twin is not None:
            twin.exclude = child.exclude
            _mirror_exclusion(child, twin)


@contextmanager
def render_scene(source: bpy.types.Scene,
                 view_layer: bpy.types.ViewLayer | None = None) -> Iterator[bpy.types.Scene]:
    """A throw-away scene showing ``source``'s objects, world and colour management."""
    had_result = any(i.type == "RENDER_RESULT" for i in bpy.data.images)
    tmp = bpy.data.scenes.new("restyle_render_tmp")
    try:
        for obj in source.collection.objects:
            tmp.collection.objects.link(obj)
        for coll in source.collection.children:
            tmp.collection.children.link(coll)
        layer = view_layer or source.view_layers[0]
        _mirror_exclusion(layer.layer_collection, tmp.view_layers[0].layer_collection)
        tmp.world = source.world or _neutral_world()
        tmp.frame_current = source.frame_current
        for attr in ("view_transform", "look", "exposure", "gamma"):
            setattr(tmp.view_settings, attr, getattr(source.view_settings, attr))
        tmp.display_settings.display_device = source.display_settings.display_device
        tmp.render.resolution_percentage = 100
        tmp.render.film_transparent = False
        yield tmp
    finally:
        for obj in [o for o in tmp.collection.objects if o.get("restyle_temp_camera")]:
            data = obj.data
            bpy.data.objects.remove(obj)
            bpy.data.cameras.remove(data)
        world = tmp.world
        bpy.data.scenes.remove(tmp)
        if world is not None and world.get("restyle_temp_world"):
            bpy.data.worlds.remove(world)
        if not had_result:  # leave bpy.data as it was: drop the "Render Result" we made
            for image in [i for i in bpy.data.images if i.type == "RENDER_RESULT"]:
                bpy.data.images.remove(image)


def _camera_for(tmp: bpy.types.Scene, view: View) -> bpy.types.Object:
    """The camera object to render ``view`` through (a temporary one for matrix views)."""
    if view.camera is not None:
        if view.camera.name not in tmp.objects:
            tmp.collection.objects.link(view.camera)
        return view.camera
    data = bpy.data.cameras.new("restyle_view")
    data.lens, data.sensor_width, data.sensor_fit = view.lens, view.sensor, "AUTO"
    if view.ortho_scale is not None:
        data.type, data.ortho_scale = "ORTHO", view.ortho_scale
    obj = bpy.data.objects.new("restyle_view", data)
    obj["restyle_temp_camera"] = True
    obj.matrix_world = view.matrix
    tmp.collection.objects.link(obj)
    return obj


def use_engine(tmp: bpy.types.Scene, engine: str, samples: int) -> None:
    """Configure ``tmp`` for fast colour renders with Cycles or textured Workbench."""
    if engine not in ENGINES:
        raise ValueError(f"render engine {engine!r} is not one of {', '.join(ENGINES)}")
    if engine == "CYCLES":
        tmp.render.engine = "CYCLES"
        tmp.cycles.device = "CPU"
        tmp.cycles.samples = max(1, samples)
        tmp.cycles.use_adaptive_sampling = False
        tmp.cycles.use_denoising = False
        tmp.cycles.max_bounces = 2
    else:
        tmp.render.engine = "BLENDER_WORKBENCH"
        tmp.display.shading.light = "STUDIO"
        tmp.display.shading.color_type = "TEXTURE"
    settings = tmp.render.image_settings
    if hasattr(settings, "media_type"):  # Blender 5.0+
        settings.media_type = "IMAGE"
    settings.file_format = "PNG"
    settings.color_mode = "RGB"
    settings.color_depth = "8"


def render_view(tmp: bpy.types.Scene, view: View, path: Path, longest: int) -> Path:
    """Render ``view`` in ``tmp`` (configured by the caller) to ``path``; returns ``path``."""
    tmp.camera = _camera_for(tmp, view)
    tmp.render.resolution_x, tmp.render.resolution_y = render_size(view.aspect, longest)
    tmp.render.pixel_aspect_x = tmp.render.pixel_aspect_y = 1.0
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.render.filepath = str(path)
    tmp.render.use_file_extension = False
    bpy.ops.render.render(write_still=True, scene=tmp.name)
    if not path.is_file():
        raise AddonError(f"rendering view '{view.name}' did not write {path}")
    return path


def render_one(scene: bpy.types.Scene, view: View, path: Path, longest: int,
               engine: str = "CYCLES", samples: int = 4) -> Path:
    """Render ``view`` of ``scene`` to ``path`` in a temporary scene of its own.

    Nothing is left in the file between two calls, so a caller can render one view per
    timer step (the UI stays live) and stop after any of them.
    """
    with render_scene(scene) as tmp:
        use_engine(tmp, engine, samples)
        return render_view(tmp, view, path, longest)


def render_views(scene: bpy.types.Scene, views: Sequence[View], out_dir: Path, longest: int,
                 engine: str = "CYCLES", samples: int = 4, prefix: str = "view") -> list[Path]:
    """Render every view to ``out_dir/<prefix>_NN.png`` at ``longest`` pixels."""
    return [render_one(scene, view, Path(out_dir) / f"{prefix}_{i:02d}.png", longest, engine,
                       samples) for i, view in enumerate(views)]
