"""Helpers for tests that use Blender: paths, the standard test scene, tiny settings.

A plain module (not ``conftest``) so test files can import from it by name: two
``conftest.py`` files would otherwise shadow each other in ``sys.modules``.
Functions take ``bpy`` as an argument; importing this module never imports Blender.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "demo" / "assets"
ADDON_MODULE = "bl_ext.user_default.restyle"


def venv_python() -> Path:
    """The project's .venv interpreter (the one that has torch): the worker's Python."""
    if os.name == "nt":
        return ROOT / ".venv" / "Scripts" / "python.exe"
    return ROOT / ".venv" / "bin" / "python"


def act_when(find: Callable[[], object], action: Callable[[object], None],
             timeout: float = 300.0) -> threading.Thread:
    """From a thread, call ``action(x)`` once ``find()`` returns something (``x``): what a
    user does mid-run (Cancel, a crash) while the main thread blocks in an operator."""

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = find()
            if found is not None:
                action(found)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


# --------------------------------------------------------------------------- settings

STYLE_PAINTING = ROOT / "core" / "data" / "styles" / "starry_night.jpg"


def use_tiny_training(bpy, renders: bool = False) -> None:
    """Tiny, fast stylize settings: a custom style image, 64 px textures, 3 training steps.

    Tests that use exactly these on the standard test scene share one trained model
    through the worker's cache (keyed by the style and content bytes and the settings),
    so only the first of them in a session pays for training. ``renders`` keeps the
    render-aware training and stroke-scale measurement on (slower; tests/render).
    """
    settings = bpy.context.scene.restyle
    settings.style_source = "IMAGES"
    settings.style_images.add().image = bpy.data.images.load(str(STYLE_PAINTING),
                                                             check_existing=True)
    settings.steps_override = 3
    settings.max_size = 64
    settings.effort = "QUICK"
    render = bpy.context.scene.restyle_render
    render.render_aware = renders
    render.consistent_scale = renders


# --------------------------------------------------------------------------- scene builder

def copy_assets(dest: Path) -> Path:
    """Copy demo/assets to ``dest`` so tests can check originals stay byte-identical."""
    shutil.copytree(ASSETS, dest, dirs_exist_ok=True)
    return dest


def import_demo_models(bpy, assets: Path) -> list:
    """The crate, barrel and rock, imported by the demo's own scene code."""
    spec = importlib.util.spec_from_file_location("demo_scene", ROOT / "scripts" / "demo_scene.py")
    demo_scene = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo_scene)
    return demo_scene.import_demo_models(bpy, assets)


def _write_png(bpy, path: Path, size: int, rgba) -> Path:
    """Write a small solid-with-gradient PNG via Blender (no PIL needed in the add-on)."""
    img = bpy.data.images.new(path.stem + "_tmp", size, size, alpha=True)
    pixels = []
    for y in range(size):
        for x in range(size):
            t = (x + y) / (2 * size)
            pixels += [rgba[0] * (1 - t) + t * 0.5, rgba[1], rgba[2] * t + 0.1, rgba[3]]
    img.pixels.foreach_set(pixels)
    img.filepath_raw = str(path)
    img.file_format = "PNG"
    img.save()
    bpy.data.images.remove(img)
    return path


def _material(bpy, name: str):
    """A node material with only its default Principled BSDF and output."""
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True
    elif mat.node_tree is None:  # pragma: no cover - 5.0 always has a tree
        raise RuntimeError("material without node tree")
    return mat, mat.node_tree.nodes["Principled BSDF"]


def _plane(bpy, name: str, mat, x: float):
    """A plane object in the scene carrying ``mat``."""
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([(-1, -1, 0), (1, -1, 0), (1, 1, 0), (-1, 1, 0)], [], [(0, 1, 2, 3)])
    mesh.uv_layers.new(name="UVMap")
    obj = bpy.data.objects.new(name, mesh)
    obj.location = (x, 4.0, 0.0)
    bpy.context.scene.collection.objects.link(obj)
    mesh.materials.append(mat)
    return obj


def _tex(nodes, image):
    node = nodes.new("ShaderNodeTexImage")
    node.image = image
    return node


def _mix_rgba(nodes):
    """A colour Mix node and its A/B colour inputs and colour output."""
    mix = nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    a, b = (s for s in mix.inputs if s.type == "RGBA")
    out = next(s for s in mix.outputs if s.type == "RGBA")
    return mix, a, b, out


def build_test_scene(bpy, assets_dir: Path) -> dict:
    """Build the scene every add-on test uses, from a fresh copy of demo/assets.

    Besides the three OBJ models (crate, barrel with two materials, rock) it adds planes
    whose materials exercise the hard cases of texture discovery and write-back:

    - ``SharedCrate``: the crate's image datablock used by a second material
    - normal map (Non-Color, through a Normal Map node) and roughness image (Non-Color)
      on the crate material
    - ``Packed``: a packed image; ``Generated``: a generated UV grid
    - ``Missing``: an image whose file does not exist
    - ``Chain``: image -> Hue/Sat -> Gamma -> Bright/Contrast -> RGB Curves -> Mix ->
      node group (which mixes in its own inner image) -> reroute -> Base Color

    Returns a dict naming the images by role so tests can assert on them.
    """
    assets = copy_assets(assets_dir)
    import_demo_models(bpy, assets)
    images = bpy.data.images
    crate_img = images["crate.jpg"]

    crate_mat = bpy.data.materials["Crate"]
    nodes, links = crate_mat.node_tree.nodes, crate_mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    normal_img = images.load(str(_write_png(bpy, assets / "crate_normal.png", 32,
                                            (0.5, 0.5, 1.0, 1.0))))
    normal_img.colorspace_settings.name = "Non-Color"
    normal_tex = _tex(nodes, normal_img)
    normal_map = nodes.new("ShaderNodeNormalMap")
    links.new(normal_tex.outputs["Color"], normal_map.inputs["Color"])
    links.new(normal_map.outputs["Normal"], bsdf.inputs["Normal"])
    rough_img = images.load(str(_write_png(bpy, assets / "crate_rough.png", 32,
                                           (0.6, 0.6, 0.6, 1.0))))
    rough_img.colorspace_settings.name = "Non-Color"
    links.new(_tex(nodes, rough_img).outputs["Color"], bsdf.inputs["Roughness"])

    shared_mat, shared_bsdf = _material(bpy, "SharedCrate")
    shared_nodes = shared_mat.node_tree.nodes
    shared_mat.node_tree.links.new(_tex(shared_nodes, crate_img).outputs["Color"],
                                   shared_bsdf.inputs["Base Color"])
    _plane(bpy, "SharedPlane", shared_mat, -4.5)

    packed_img = images.load(str(_write_png(bpy, assets / "packed_src.png", 48,
                                            (0.9, 0.2, 0.1, 1.0))))
    packed_img.name = "packed.png"
    packed_img.pack()
    packed_img.filepath = ""  # only the packed bytes remain
    (assets / "packed_src.png").unlink()
    packed_mat, packed_bsdf = _material(bpy, "Packed")
    packed_mat.node_tree.links.new(_tex(packed_mat.node_tree.nodes, packed_img).outputs["Color"],
                                   packed_bsdf.inputs["Base Color"])
    _plane(bpy, "PackedPlane", packed_mat, -1.5)

    generated_img = images.new("generated_grid", 64, 64)
    generated_img.generated_type = "UV_GRID"
    gen_mat, gen_bsdf = _material(bpy, "Generated")
    gen_mat.node_tree.links.new(_tex(gen_mat.node_tree.nodes, generated_img).outputs["Color"],
                                gen_bsdf.inputs["Base Color"])
    _plane(bpy, "GeneratedPlane", gen_mat, 1.5)

    missing_path = _write_png(bpy, assets / "missing.png", 16, (0.3, 0.3, 0.9, 1.0))
    missing_img = images.load(str(missing_path))
    missing_path.unlink()  # the datablock now points at a file that is gone
    miss_mat, miss_bsdf = _material(bpy, "Missing")
    miss_mat.node_tree.links.new(_tex(miss_mat.node_tree.nodes, missing_img).outputs["Color"],
                                 miss_bsdf.inputs["Base Color"])
    _plane(bpy, "MissingPlane", miss_mat, 4.5)

    chain_img = images.load(str(_write_png(bpy, assets / "chain.png", 40, (0.2, 0.7, 0.3, 1.0))))
    group_img = images.load(str(_write_png(bpy, assets / "group_inner.png", 24,
                                           (0.8, 0.8, 0.1, 1.0))))
    group = bpy.data.node_groups.new("RestyleTestGroup", "ShaderNodeTree")
    group.interface.new_socket("Color", in_out="INPUT", socket_type="NodeSocketColor")
    group.interface.new_socket("Color", in_out="OUTPUT", socket_type="NodeSocketColor")
    g_in = group.nodes.new("NodeGroupInput")
    g_out = group.nodes.new("NodeGroupOutput")
    _g_mix, g_a, g_b, g_res = _mix_rgba(group.nodes)
    group.links.new(g_in.outputs[0], g_a)
    group.links.new(_tex(group.nodes, group_img).outputs["Color"], g_b)
    group.links.new(g_res, g_out.inputs[0])

    chain_mat, chain_bsdf = _material(bpy, "Chain")
    cn, cl = chain_mat.node_tree.nodes, chain_mat.node_tree.links
    socket = _tex(cn, chain_img).outputs["Color"]
    for kind in ("ShaderNodeHueSaturation", "ShaderNodeGamma", "ShaderNodeBrightContrast",
                 "ShaderNodeRGBCurve"):
        node = cn.new(kind)
        cl.new(socket, node.inputs["Color"])
        socket = node.outputs["Color"]
    _mix, a, _b, mix_out = _mix_rgba(cn)
    cl.new(socket, a)
    group_node = cn.new("ShaderNodeGroup")
    group_node.node_tree = group
    cl.new(mix_out, group_node.inputs[0])
    reroute = cn.new("NodeReroute")
    cl.new(group_node.outputs[0], reroute.inputs[0])
    cl.new(reroute.outputs[0], chain_bsdf.inputs["Base Color"])
    _plane(bpy, "ChainPlane", chain_mat, 7.5)

    return {
        "assets": assets,
        "colour": ["crate.jpg", "barrelS_D.jpg", "barrelRing.jpg", "rock01.jpg", "packed.png",
                   "generated_grid", "chain.png", "group_inner.png"],
        "non_colour": ["crate_normal.png", "crate_rough.png"],
        "missing": "missing.png",
        "shared": "crate.jpg",
        "images": {img.name: img for img in bpy.data.images},
    }
