"""End to end: the add-on's own stylizer (real worker, tiny settings), then export_vr."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from export_helpers import (
    ROOT,
    assert_valid,
    decode,
    file_digests,
    image_to_pil,
    mean_abs_diff,
    read_gltf,
    scene_snapshot,
)
from PIL import Image

STYLE_PAINTING = ROOT / "core" / "data" / "styles" / "starry_night.jpg"
JPEG_TOLERANCE = 6.0


def test_stylize_then_export_glb(test_scene, bpy_module, tmp_path):
    bpy = bpy_module
    settings = bpy.context.scene.restyle
    settings.style_source = "IMAGES"
    settings.style_images.add().image = bpy.data.images.load(str(STYLE_PAINTING))
    settings.steps_override = 3
    settings.max_size = 64
    assert bpy.ops.restyle.stylize_scene() == {"FINISHED"}, settings.last_report

    stylized = {img.name: img for img in bpy.data.images if img.name.endswith(".restyle")}
    assert stylized, "the stylizer wrote no <name>.restyle images"
    before = scene_snapshot(bpy)
    disk_before = file_digests(test_scene["assets"])
    out = tmp_path / "stylized.glb"
    export_settings = bpy.context.scene.restyle_export
    export_settings.max_texture_size = 128
    assert bpy.ops.restyle.export_vr(filepath=str(out)) == {"FINISHED"}

    assert_valid(out)
    _doc, images = read_gltf(out)
    for name in ("crate.jpg.restyle", "rock01.jpg.restyle", "barrelS_D.jpg.restyle"):
        assert name in images, sorted(images)
        got = decode(images[name])
        assert max(got.size) <= 128
        want = image_to_pil(stylized[name]).resize(got.size, Image.HAMMING)
        assert mean_abs_diff(got, np.asarray(want, np.float32)) < JPEG_TOLERANCE, name
    assert scene_snapshot(bpy) == before
    assert file_digests(test_scene["assets"]) == disk_before
    assert Path(export_settings.summary()["report_file"]).is_file()
