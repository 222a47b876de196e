"""The render features through the installed add-on: render-aware training and the preview.

Real Blender, real worker, tiny sizes: 64 px textures and renders, a few training steps.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from render_scenes import ROOT

STYLE_PAINTING = ROOT / "core" / "data" / "styles" / "starry_night.jpg"


def _tiny(bpy, renders: int) -> None:
    """Custom style image, 3 training steps, 64 px textures and renders."""
    settings = bpy.context.scene.restyle
    settings.style_source = "IMAGES"
    settings.style_images.add().image = bpy.data.images.load(str(STYLE_PAINTING))
    settings.steps_override = 3
    settings.max_size = 64
    render = bpy.context.scene.restyle_render
    render.render_count = renders
    render.render_size = 64
    render.density_size = 64
    render.samples = 1


def _add_camera(bpy, aspect=(64, 48)):
    """A camera framing the test scene (its OBJ models are ~60-90 units across) and a sun."""
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    cam.location = (0.0, -260.0, 160.0)
    cam.rotation_euler = (1.05, 0.0, 0.0)
    bpy.context.scene.collection.objects.link(cam)
    bpy.context.scene.camera = cam
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sun.data.energy = 4.0
    sun.rotation_euler = (0.6, 0.2, 0.0)
    bpy.context.scene.collection.objects.link(sun)
    bpy.context.scene.render.resolution_x, bpy.context.scene.render.resolution_y = aspect
    return cam


@pytest.mark.parametrize("render_aware", [True, False])
def test_render_aware_training_adds_renders_to_content(test_scene, bpy_module, restyle_addon,
                                                      render_aware):
    """With the option on, the job's content is the textures plus ``render_count`` renders;
    the run trains on them and the report gives every texture's texel density."""
    bpy = bpy_module
    runner = restyle_addon.addon.runner
    _tiny(bpy, renders=3)
    _add_camera(bpy)
    bpy.context.scene.restyle_render.render_aware = render_aware
    run = runner.start_run(bpy.context, list(bpy.context.scene.objects), "test")
    while run.body is None:  # preparing: exports, then one render per step
        assert run.step() == runner.RUNNING, bpy.context.scene.restyle.last_report
    textures = [img["ref"] for img in run.body["images"]]
    renders = [p for p in run.body["content"] if p not in textures]
    assert run.body["content"][:len(textures)] == textures
    assert len(renders) == (3 if render_aware else 0)
    assert all(p.endswith(".png") and "renders" in p for p in renders)
    assert {img.get("scale") is not None for img in run.body["images"]} == {True}
    if not render_aware:  # the job body is the point here; do not train twice
        run.request_cancel()
        assert runner.run_to_end(run) == runner.CANCELLED
        return
    assert runner.run_to_end(run) == runner.DONE, bpy.context.scene.restyle.last_report
    report = bpy.context.scene.restyle.last_report
    assert "Trained on 3 scene render(s) as well" in report, report
    assert "Texel density crate.jpg:" in report, report
    assert not any(s.name.startswith("restyle_render_tmp") for s in bpy.data.scenes)


def test_preview_creates_stylized_image(test_scene, bpy_module, restyle_addon, tmp_path):
    """``restyle.preview`` makes ``Restyle Preview`` at the requested size, unlike the render."""
    bpy = bpy_module
    package = restyle_addon.addon
    _tiny(bpy, renders=1)
    _add_camera(bpy, aspect=(64, 48))
    client = package.session.get_client(package.preferences.get_prefs(bpy.context))
    client.wait_ready()
    inputs = package.session.new_job_dir()
    style = shutil.copy(STYLE_PAINTING, inputs / STYLE_PAINTING.name)
    content = shutil.copy(test_scene["assets"] / "crate" / "crate.jpg", inputs / "crate.jpg")
    train = client.wait_job(client.submit(
        "train", styles=[style], content=[content],
        settings={"steps": 3, "size": 64, "batch": 1}), timeout=300)
    assert train["state"] == "done", train
    bpy.context.scene.restyle["last_model"] = train["model"]

    assert bpy.ops.restyle.preview(size=64) == {"FINISHED"}

    image = bpy.data.images["Restyle Preview"]
    assert tuple(image.size) == (64, 48)
    styled = np.empty(64 * 48 * 4, np.float32)
    image.pixels.foreach_get(styled)
    views = package.render.views
    render_settings = bpy.context.scene.restyle_render
    (plain_path,) = views.render_views(bpy.context.scene, [views.camera_view(bpy.context.scene)],
                                       tmp_path, 64, render_settings.engine,
                                       render_settings.samples)
    plain_img = bpy.data.images.load(str(plain_path))
    plain = np.empty(64 * 48 * 4, np.float32)
    plain_img.pixels.foreach_get(plain)
    diff = np.abs(styled - plain).reshape(-1, 4)[:, :3]
    assert plain.reshape(-1, 4)[:, :3].std() > 0.02  # the render shows the scene
    print(f"preview vs plain render: mean abs difference {diff.mean() * 255:.1f}/255")
    assert diff.mean() > 2 / 255, diff.mean()


def test_preview_without_camera_says_what_to_do(test_scene, bpy_module, restyle_addon):
    """Headless with no active camera there is nothing to render: a clear error, no image."""
    bpy = bpy_module
    bpy.context.scene.camera = None
    with pytest.raises(RuntimeError, match="has no active camera; add a camera"):
        bpy.ops.restyle.preview(size=64, model="any")
    assert "Restyle Preview" not in bpy.data.images
