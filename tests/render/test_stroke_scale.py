"""Consistent stroke scale, measured on screen with a real worker and a really trained model.

Two planes show one texture (two datablocks of the same file); one plane's UVs are scaled
4x, so it packs 4x the texels into each screen pixel. The textures are stylized by the
worker with the per-texture scales the run would use (UV-pass texel density), then with
scale 1 for both; each time the scene is rendered and the stroke size on each plane is
measured as the power-weighted mean wavelength of what stylization added
(``render_scenes.stroke_wavelength`` of ``added_texture``). With consistent scale the two
planes' stroke sizes agree within 1.5x; without it they differ by about the UV factor.

The model is a real model file run by the real worker: a small seeded generator (no
stroke streaks) whose full-resolution head has random weights, so what it adds is a
fixed 3x3-conv response to detail a pixel or two across, at its own pixel scale (a
shipped style would need minutes per texture here). The texture has per-texel grain
for it to act on; at scale 1/4 the worker runs the model on the texture shrunk 4x, so
its marks land 4 texels apart. The test asks for strokes twice the reference size
(``target_stroke_scale`` 2): scales come out 1 and 1/4.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from render_scenes import (
    PLANE_X,
    UV_FACTOR,
    added_texture,
    build_two_planes,
    load_rgb,
    plane_box,
    stroke_wavelength,
    write_texture,
)

WIDTH = 1024  # measurement renders: each plane is ~445 px square
TEX_SIZE = 64  # texels per plane side: 0.14 texels/px on the wide plane, 0.57 on the dense
LONGEST = 48.0  # px; longer wavelengths are the texture's own waves, not strokes
GRAIN = 0.1  # per-texel noise in the texture: the detail the marks model responds to


def _marks_model(folder: Path) -> Path:
    """Save the seeded mark-painting generator as a model folder (core's own store)."""
    torch = pytest.importorskip("torch", reason="makes its model with core (the worker venv)")

    from core.model.generator import build_generator
    from core.store import save_model

    torch.manual_seed(0)
    # No stroke streaks: they are 8-16 texels long, so their response would mix a second,
    # longer wavelength into what this test measures.
    generator = build_generator(width=16, deep_width=32, blocks=1, strokes=False)
    torch.nn.init.normal_(generator.head.weight, std=0.1)
    return save_model(generator.eval(), {"description": "seeded marks (stroke-scale test)"},
                      folder)


def _set_images(parts: dict, images) -> None:
    for obj, image in zip((parts["wide"], parts["dense"]), images, strict=True):
        node = next(n for n in obj.material_slots[0].material.node_tree.nodes
                    if n.type == "TEX_IMAGE")
        node.image = image


def _stroke_sizes(bpy, views, parts, plain, files, out) -> list[float]:
    """Render with ``files`` on (wide, dense) and measure each plane's stroke wavelength."""
    loaded = [bpy.data.images.load(str(f), check_existing=False) for f in files]
    _set_images(parts, loaded)
    scene = bpy.context.scene
    (path,) = views.render_views(scene, [views.camera_view(scene)], out, WIDTH, "WORKBENCH",
                                 1, prefix=files[0].stem)
    _set_images(parts, parts["images"])
    for image in loaded:
        bpy.data.images.remove(image)
    styled = load_rgb(path)
    sizes = []
    for x in (-PLANE_X, PLANE_X):
        box = plane_box(WIDTH, x)
        sizes.append(stroke_wavelength(added_texture(styled[box], plain[box]), LONGEST))
    return sizes


def test_strokes_match_on_screen_across_texel_densities(clean_scene, bpy_module, restyle_addon,
                                                        tmp_path):
    bpy = bpy_module
    package = restyle_addon.addon
    views, content = package.render.views, package.render.content
    session = package.session
    inputs = session.new_job_dir()  # under the worker's allowed root
    texture = write_texture(bpy, inputs / "waves.png", TEX_SIZE, grain=GRAIN)
    parts = build_two_planes(bpy, texture, shared=False, width=WIDTH)
    settings = bpy.context.scene.restyle_render
    settings.render_count = 1  # the camera view
    settings.density_size = 256
    settings.target_stroke_scale = 2.0

    measured = content.prepare_render_content(
        bpy.context.scene, list(bpy.context.scene.objects),
        [img.name for img in parts["images"]], tmp_path, training=False)
    wide_img, dense_img = (img.name for img in parts["images"])
    density = {d.image: d.density for d in measured.densities}
    assert density[dense_img] / density[wide_img] > 0.9 * UV_FACTOR
    scales = [measured.scales[wide_img], measured.scales[dense_img]]
    assert scales[0] / scales[1] > 0.9 * UV_FACTOR

    client = session.get_client(package.preferences.get_prefs(bpy.context))
    client.wait_ready()
    model = _marks_model(inputs / "marks_model")
    job = client.wait_job(client.submit(
        "stylize", model=str(model), settings={"seamless": "on"},
        images=[{"ref": str(texture), "scale": s} for s in (*scales, 1.0)]), timeout=300)
    assert job["state"] == "done", job
    files = [client.fetch_result(job["id"], r, tmp_path / f"{i}_{r['name']}")
             for i, r in enumerate(job["results"])]

    scene = bpy.context.scene
    (plain_path,) = views.render_views(scene, [views.camera_view(scene)], tmp_path, WIDTH,
                                       "WORKBENCH", 1, prefix="plain")
    plain = load_rgb(plain_path)
    with_scale = _stroke_sizes(bpy, views, parts, plain, files[:2], tmp_path)
    without = _stroke_sizes(bpy, views, parts, plain, [files[2], files[2]], tmp_path)

    ratio_on = max(with_scale) / min(with_scale)
    ratio_off = without[0] / without[1]
    print(f"stroke wavelength px (wide, dense): scale on {with_scale} ratio {ratio_on:.2f}; "
          f"off {without} ratio {ratio_off:.2f}; densities {density}; scales {scales}")
    assert ratio_on < 1.5, (with_scale, without)
    assert ratio_off > 2.0, (with_scale, without)  # it matters: ~UV_FACTOR apart without
