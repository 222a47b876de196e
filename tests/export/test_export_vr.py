"""restyle.export_vr on the shared test scene with stylized textures: real files, real validator."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from export_helpers import (
    assert_valid,
    decode,
    expected_pixels,
    file_digests,
    image_to_pil,
    mean_abs_diff,
    read_gltf,
    scene_snapshot,
    stylize_images,
)

JPEG_TOLERANCE = 6.0  # mean |diff| in 0-255 levels: Blender's resize vs PIL's + JPEG q90
DIFFERENT = 40.0  # stylized vs original differ by far more than that


@pytest.fixture
def stylized_scene(test_scene, bpy_module, tmp_path) -> dict:
    """The shared test scene (``build_test_scene``) with the top-level colour textures
    swapped for stylized files."""
    names = ["crate.jpg", "barrelS_D.jpg", "barrelRing.jpg", "rock01.jpg", "packed.png",
             "generated_grid"]
    stylized = stylize_images(bpy_module, names, tmp_path / "stylized")
    return {**test_scene, "stylized": stylized}


def export(bpy, path: Path, **settings) -> dict:
    """Run the operator with scene settings ``settings``; return the report file's JSON."""
    import json

    export_settings = bpy.context.scene.restyle_export
    for key, value in settings.items():
        setattr(export_settings, key, value)
    assert bpy.ops.restyle.export_vr(filepath=str(path)) == {"FINISHED"}
    summary = export_settings.summary()
    return json.loads(Path(summary["report_file"]).read_text())


def check_stylized(images: dict[str, bytes], scene: dict, budget: int, tolerance: float):
    """Every stylized texture is in the file, within budget, with the stylized pixels."""
    from PIL import Image

    for name, path in scene["stylized"].items():
        assert name in images, f"stylized texture {name} missing from file: {sorted(images)}"
        got = decode(images[name])
        assert max(got.size) <= budget
        with Image.open(path) as src:
            w, h = src.size
        scale = min(1.0, budget / max(w, h))
        assert got.size == (max(1, round(w * scale)), max(1, round(h * scale)))
        assert mean_abs_diff(got, expected_pixels(path, got.size)) < tolerance, name
        original = scene["images"][name.removesuffix(".restyle")]
        plain = image_to_pil(original).resize(got.size, Image.HAMMING)
        assert mean_abs_diff(got, np.asarray(plain, np.float32)) > DIFFERENT, name


def test_glb_holds_budgeted_stylized_textures_and_validates(stylized_scene, bpy_module,
                                                            tmp_path):
    bpy = bpy_module
    before = scene_snapshot(bpy)
    disk_before = file_digests(stylized_scene["assets"]) | file_digests(tmp_path / "stylized")
    out = tmp_path / "out" / "scene.glb"
    report = export(bpy, out, max_texture_size=128, image_format="JPEG")

    validation = assert_valid(out)
    doc, images = read_gltf(out)
    check_stylized(images, stylized_scene, 128, JPEG_TOLERANCE)
    # The report lists every texture in the file, with the file's sizes and bytes.
    by_name = {t["name"]: t for t in report["textures"]}
    assert set(by_name) == set(images)
    for name, data in images.items():
        width, height = decode(data).size
        entry = by_name[name]
        assert (entry["width"], entry["height"], entry["bytes"]) == (width, height, len(data))
        assert entry["gpu_bytes"] == width * height * 4 * 4 // 3
    assert report["gpu_texture_bytes"] == sum(t["gpu_bytes"] for t in report["textures"])
    assert by_name["crate.jpg.restyle"]["source_images"] == ["crate.jpg.restyle"]
    assert by_name["crate_normal.png"]["mime_type"] == "image/png"  # data stays lossless
    # Geometry figures match what the exporter wrote.
    primitives = [p for node in doc["nodes"] if "mesh" in node
                  for p in doc["meshes"][node["mesh"]]["primitives"]]
    triangles = sum(doc["accessors"][p["indices"]]["count"] // 3 for p in primitives)
    assert report["draw_calls"] == len(primitives)
    assert report["triangles"] == triangles
    assert report["materials"] == len({p.get("material") for p in primitives})
    assert validation["info"]["drawCallCount"] == len(primitives)
    # Warnings: the missing file, the node-group texture the exporter drops, NPOT sizes.
    warnings = "\n".join(report["warnings"])
    assert "missing.png" in warnings and "is missing" in warnings
    assert "group_inner.png" in warnings and "not in the file" in warnings
    assert "power-of-two" in warnings
    # Nothing in the scene or on disk changed; no temporary datablocks are left.
    assert scene_snapshot(bpy) == before
    assert file_digests(stylized_scene["assets"]) | file_digests(tmp_path / "stylized") == (
        disk_before)
    assert out.with_name("scene.report.json").is_file()


def test_unlit_png_power_of_two_gltf_separate(stylized_scene, bpy_module, tmp_path):
    bpy = bpy_module
    before = scene_snapshot(bpy)
    out = tmp_path / "sep" / "scene.gltf"
    report = export(bpy, out, file_format="GLTF_SEPARATE", max_texture_size=200,
                    power_of_two=True, image_format="PNG", unlit=True)
    assert_valid(out)
    doc, _ = read_gltf(out)
    assert "KHR_materials_unlit" in doc["extensionsUsed"]
    exported = {m["name"]: m for m in doc["materials"]}
    assert {"Crate", "SharedCrate", "Packed"} <= set(exported)  # original names kept
    assert all("KHR_materials_unlit" in m.get("extensions", {}) for m in exported.values())
    for tex in report["textures"]:
        assert tex["mime_type"] == "image/png"
        assert (tex["width"], tex["height"]) in {(128, 128), (64, 64), (32, 32)}
    # File names differ between Blender versions: check the files the glTF points at.
    uris = [unquote(image["uri"]) for image in doc["images"]]
    assert uris and all(u.endswith(".png") and (out.parent / u).is_file() for u in uris)
    assert "power-of-two" not in "\n".join(report["warnings"])
    written = [p for p in out.parent.iterdir() if not p.name.endswith(".report.json")]
    assert report["total_bytes"] == sum(p.stat().st_size for p in written)
    # Unlit materials only carry the colour: no normal map texture in the file.
    assert "crate_normal.png" not in {t["name"] for t in report["textures"]}
    assert scene_snapshot(bpy) == before


def test_usdz_holds_stylized_textures(stylized_scene, bpy_module, tmp_path):
    bpy = bpy_module
    before = scene_snapshot(bpy)
    out = tmp_path / "scene.usdz"
    report = export(bpy, out, file_format="USDZ", max_texture_size=256, image_format="JPEG")
    with zipfile.ZipFile(out) as package:
        names = package.namelist()
        assert any(n.endswith((".usdc", ".usda")) for n in names)
        images = {Path(n).stem: package.read(n) for n in names if n.startswith("textures/")}
    check_stylized(images, stylized_scene, 256, JPEG_TOLERANCE)
    assert {t["name"] for t in report["textures"]} == set(images)
    assert scene_snapshot(bpy) == before


def test_draco_and_webp(stylized_scene, bpy_module, tmp_path):
    bpy = bpy_module
    out = tmp_path / "draco.glb"
    report = export(bpy, out, draco=True, image_format="WEBP", max_texture_size=64)
    assert_valid(out)
    doc, _ = read_gltf(out)
    warnings = "\n".join(report["warnings"])
    assert "glTFast" in warnings
    assert all(t["mime_type"] == "image/webp" for t in report["textures"])
    if "Draco compression is not available" in warnings:
        assert "KHR_draco_mesh_compression" not in doc.get("extensionsUsed", [])
    else:
        assert "KHR_draco_mesh_compression" in doc["extensionsRequired"]


def test_bad_input_gives_clear_errors(stylized_scene, bpy_module, tmp_path):
    bpy = bpy_module
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the output folder should be")
    with pytest.raises(RuntimeError, match="Cannot write to output folder"):
        bpy.ops.restyle.export_vr(filepath=str(blocker / "scene.glb"))
    with pytest.raises(RuntimeError, match="not saved yet"):
        bpy.ops.restyle.export_vr(filepath="//scene.glb")
    with pytest.raises(RuntimeError, match="is a folder"):
        bpy.ops.restyle.export_vr(filepath=str(tmp_path))
    # The exporter itself fails (file behind a dangling link): the scene is restored.
    before = scene_snapshot(bpy)
    dangling = tmp_path / "dangling.glb"
    dangling.symlink_to(tmp_path / "no" / "such" / "dir.glb")
    with pytest.raises(RuntimeError, match="exporter failed writing"):
        bpy.ops.restyle.export_vr(filepath=str(dangling))
    assert scene_snapshot(bpy) == before
    for obj in bpy.context.view_layer.objects:
        obj.select_set(False)
    bpy.context.scene.restyle_export.selected_only = True
    with pytest.raises(RuntimeError, match="Nothing to export: no mesh objects selected"):
        bpy.ops.restyle.export_vr(filepath=str(tmp_path / "none.glb"))
    assert not (tmp_path / "none.glb").exists()


def test_selected_only_exports_the_selection(stylized_scene, bpy_module, tmp_path):
    bpy = bpy_module
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj.name == "PackedPlane")
    out = tmp_path / "one.glb"
    report = export(bpy, out, selected_only=True)
    _doc, images = read_gltf(out)
    assert set(images) == {"packed.png.restyle"}
    assert report["objects"] == 1 and report["triangles"] == 2 and report["draw_calls"] == 1
    # Only the active scene is exported (the glTF exporter's default is every scene).
    other = bpy.data.scenes.new("Other")
    mat = bpy.data.materials.new("OtherOnly")
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True
    node = mat.node_tree.nodes.new("ShaderNodeTexImage")
    node.image = bpy.data.images.new("other_only", 16, 16)
    mat.node_tree.links.new(node.outputs["Color"],
                            mat.node_tree.nodes["Principled BSDF"].inputs["Base Color"])
    mesh = bpy.data.objects["PackedPlane"].data.copy()
    mesh.materials.clear()
    mesh.materials.append(mat)
    other.collection.objects.link(bpy.data.objects.new("OtherPlane", mesh))
    export(bpy, tmp_path / "all.glb", selected_only=False)
    doc_all, images = read_gltf(tmp_path / "all.glb")
    assert "other_only" not in images and len(doc_all["scenes"]) == 1
    assert hasattr(bpy.types, "RESTYLE_PT_export_vr")  # the panel registered under Restyle


def test_fit_size_keeps_aspect_and_rounds_to_powers_of_two(restyle_addon):
    fit_size = restyle_addon.addon.export.budget.fit_size
    assert fit_size(4096, 2048, 2048, False) == (2048, 1024)
    assert fit_size(384, 384, 2048, False) == (384, 384)  # never upscaled
    assert fit_size(600, 300, 256, True) == (256, 128)
    assert fit_size(384, 200, 2048, True) == (512, 256)  # nearest power of two by ratio
    assert fit_size(360, 180, 2048, True) == (256, 128)
    assert fit_size(3000, 3000, 1000, True) == (512, 512)  # POT cap below a NPOT budget


def test_transparent_texture_stays_png_with_alpha(clean_scene, bpy_module, tmp_path):
    from PIL import Image

    bpy = bpy_module
    rgba = np.zeros((64, 96, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = np.linspace(0, 255, 96, dtype=np.uint8)[None, :]
    path = tmp_path / "leaves.restyle.png"
    Image.fromarray(rgba, "RGBA").save(path)
    image = bpy.data.images.load(str(path))
    mat = bpy.data.materials.new("Leaves")
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = image
    links.new(tex.outputs["Color"], nodes["Principled BSDF"].inputs["Base Color"])
    links.new(tex.outputs["Alpha"], nodes["Principled BSDF"].inputs["Alpha"])
    mesh = bpy.data.meshes.new("Leaves")
    mesh.from_pydata([(-1, -1, 0), (1, -1, 0), (1, 1, 0), (-1, 1, 0)], [], [(0, 1, 2, 3)])
    mesh.uv_layers.new(name="UVMap")
    mesh.materials.append(mat)
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("Leaves", mesh))
    toon = bpy.data.materials.new("Toon")  # a shader glTF cannot hold: reported, not silent
    if bpy.app.version < (5, 0, 0):
        toon.use_nodes = True
    diffuse = toon.node_tree.nodes.new("ShaderNodeBsdfDiffuse")
    toon.node_tree.links.new(diffuse.outputs[0],
                             toon.node_tree.nodes["Material Output"].inputs["Surface"])
    other = mesh.copy()
    other.materials[0] = toon
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("Toon", other))

    out = tmp_path / "leaves.glb"
    report = export(bpy, out, max_texture_size=48, image_format="JPEG")
    assert_valid(out)
    _doc, images = read_gltf(out)
    got = Image.open(io.BytesIO(images[image.name]))
    assert got.format == "PNG" and got.mode == "RGBA" and got.size == (48, 32)
    want = np.asarray(Image.fromarray(rgba).resize((48, 32), Image.HAMMING), np.float32)
    assert mean_abs_diff(np.asarray(got)[..., 3], want[..., 3]) < 3.0
    assert "transparency" in report["textures"][0]["notes"][0]
    assert any("'Toon' uses a 'Diffuse BSDF' shader" in w for w in report["warnings"])
