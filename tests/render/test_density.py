"""Texel density from the Cycles UV pass, and the views it is measured in."""

from __future__ import annotations

import numpy as np
import pytest
from render_scenes import UV_FACTOR, build_two_planes, render_modules, write_texture


def test_uv_density_of_two_planes_differs_by_uv_factor(bpy_module, tmp_path):
    """One shared texture; the plane whose UVs are scaled 4x shows 4x the texels per pixel."""
    mods = render_modules(bpy_module)
    bpy = bpy_module
    uv = mods["uv_density"]
    views = mods["views"]
    scene_parts = build_two_planes(bpy, write_texture(bpy, tmp_path / "tex.png"), shared=True)
    passes_before = [m.pass_index for m in bpy.data.materials]
    scenes_before = len(bpy.data.scenes)

    (density,) = uv.estimate_densities(bpy.context.scene, [views.camera_view(bpy.context.scene)],
                                       tmp_path / "uv", longest=256)

    assert density.image == scene_parts["images"][0].name
    ratio = density.per_object["Dense"] / density.per_object["Wide"]
    assert ratio == pytest.approx(UV_FACTOR, rel=0.10)
    # 128 texels over a 2-unit plane seen 4.6 units wide at 1024 px: 128 / (2 * 1024 / 4.6)
    assert density.per_object["Wide"] == pytest.approx(128 / (2 * 1024 / 4.6), rel=0.10)
    assert [m.pass_index for m in bpy.data.materials] == passes_before  # restored
    assert len(bpy.data.scenes) == scenes_before  # the temporary scene is gone
    assert not [o for o in bpy.data.objects if o.type == "CAMERA" and o.name != "TopCam"]


def test_choose_scales_equalises_screen_stroke_size(bpy_module, tmp_path):
    """Two datablocks of one file: the densely mapped one is stylized at 1/4 the scale."""
    mods = render_modules(bpy_module)
    bpy = bpy_module
    uv = mods["uv_density"]
    views = mods["views"]
    parts = build_two_planes(bpy, write_texture(bpy, tmp_path / "tex.png"), shared=False)
    wide_img, dense_img = (img.name for img in parts["images"])

    densities = uv.estimate_densities(bpy.context.scene, [views.camera_view(bpy.context.scene)],
                                      tmp_path / "uv", longest=256)
    scales = uv.choose_scales(densities)

    assert scales[wide_img] / scales[dense_img] == pytest.approx(UV_FACTOR, rel=0.10)
    by_name = {d.image: d for d in densities}
    screen = [scales[n] * by_name[n].density for n in (wide_img, dense_img)]
    assert screen[0] == pytest.approx(screen[1], rel=0.10)  # scale x density is constant
    bigger = uv.choose_scales(densities, target=2.0)
    assert bigger[wide_img] == pytest.approx(scales[wide_img] / 2, rel=1e-6)
    assert all(0.25 <= s <= 2.0 for s in (*scales.values(), *bigger.values()))


def test_exr_reader_matches_openexr(bpy_module, tmp_path):
    """The add-on's own EXR reader decodes Blender's multilayer EXR like the OpenEXR package."""
    mods = render_modules(bpy_module)
    openexr = pytest.importorskip("OpenEXR")
    bpy = bpy_module
    uv, views, exr = (mods[n] for n in ("uv_density", "views", "exr"))
    build_two_planes(bpy, write_texture(bpy, tmp_path / "tex.png"), shared=True)
    uv.estimate_densities(bpy.context.scene, [views.camera_view(bpy.context.scene)],
                          tmp_path / "uv", longest=128)
    path = tmp_path / "uv" / "uv_00.exr"
    ours = exr.read_exr(path)
    theirs = {}
    for part in openexr.File(str(path)).parts:
        for name, channel in part.channels.items():
            if channel.pixels.ndim == 2:
                theirs[name] = channel.pixels
    assert {n for n in theirs if ".UV." in n} <= set(ours)
    for name, pixels in theirs.items():
        np.testing.assert_array_equal(ours[name], pixels, err_msg=name)


def test_training_views_cover_the_scene(bpy_module, tmp_path):
    """Active camera first, then orbit views that all see the geometry; PNGs at the size."""
    mods = render_modules(bpy_module)
    bpy = bpy_module
    views = mods["views"]
    build_two_planes(bpy, write_texture(bpy, tmp_path / "tex.png"), shared=True)
    chosen = views.training_views(bpy.context.scene, 4)
    assert chosen[0].name == "TopCam"
    assert len(chosen) == 4
    paths = views.render_views(bpy.context.scene, chosen, tmp_path / "r", 96, "CYCLES", 1)
    assert [p.name for p in paths] == [f"view_{i:02d}.png" for i in range(4)]
    for path in paths:
        img = bpy.data.images.load(str(path))
        assert max(img.size) == 96
        px = np.empty(img.size[0] * img.size[1] * 4, np.float32)
        img.pixels.foreach_get(px)
        assert px.reshape(-1, 4)[:, :3].std() > 0.02, f"{path.name} shows nothing"
        bpy.data.images.remove(img)
