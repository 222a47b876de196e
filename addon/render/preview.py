"""``restyle.preview``: render the view, stylize it in the worker, show ``Restyle Preview``.

The render (active camera, or the current viewport when there is one) is a plain Cycles
or Workbench image in a fresh job folder; the worker stylizes it with the panel's style
model like any texture. Headless (``blender -b`` / the bpy module) the operator waits
for the result; with a UI it polls from a timer so Blender stays responsive, then opens
the image in an Image Editor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from bpy.props import IntProperty, StringProperty

from .views import camera_view, render_views, viewport_view

PREVIEW_IMAGE = "Restyle Preview"
_POLL_S = 0.25
_TERMINAL = {"done", "failed", "cancelled"}


@dataclass
class PreviewRun:
    """A submitted preview: the worker client, its job id and the plain render."""

    client: object
    job_id: str
    render: Path


def current_model(scene: bpy.types.Scene) -> str:
    """The style model the panel points at (a shipped style or the last trained model)."""
    settings = scene.restyle
    trained = str(settings.get("last_model", "") or getattr(settings, "last_model", "") or "")
    if settings.style_source == "IMAGES" or getattr(settings, "fit_to_scene", False):
        if trained:
            return trained
        raise RuntimeError("No trained style model yet: press Stylize once to train it, "
                           "or pick a shipped style for the preview")
    if settings.shipped_style in {"", "NONE"}:
        raise RuntimeError("No style model available: this build has no shipped style; "
                           "train one from your style images first")
    return settings.shipped_style


def start_preview(context: bpy.types.Context, size: int, model: str) -> PreviewRun:
    """Render the view and submit a stylize job for it (returns at once)."""
    from ..preferences import get_prefs
    from ..session import get_client, new_job_dir

    scene = context.scene
    settings = scene.restyle_render
    view = viewport_view(context) or camera_view(scene)
    job_dir = new_job_dir()
    (render,) = render_views(scene, [view], job_dir, size or settings.preview_size,
                             settings.engine, settings.samples, prefix="preview")
    client = get_client(get_prefs(context))
    client.wait_ready()
    job_id = client.submit({"kind": "stylize", "model": model, "images": [str(render)],
                            "settings": {}})
    return PreviewRun(client, job_id, render)


def finish_preview(run: PreviewRun, state: dict) -> bpy.types.Image:
    """Copy the stylized render into the ``Restyle Preview`` image (made or resized)."""
    if state["state"] != "done":
        raise RuntimeError(f"Preview {state['state']}: {state.get('message') or 'no message'}")
    loaded = bpy.data.images.load(state["results"][0]["path"], check_existing=False)
    try:
        width, height = loaded.size[:]
        pixels = np.empty(width * height * 4, np.float32)
        loaded.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(loaded)
    image = bpy.data.images.get(PREVIEW_IMAGE)
    if image is None:
        image = bpy.data.images.new(PREVIEW_IMAGE, width, height)
    elif tuple(image.size) != (width, height):
        image.scale(width, height)
    image.pixels.foreach_set(pixels)
    image.update()
    image["restyle_render"] = str(run.render)  # the plain render it was made from
    return image


def show_in_image_editor(context: bpy.types.Context, image: bpy.types.Image) -> None:
    """Show ``image`` in an Image Editor of the current screen, or in a new window."""
    screen = context.window.screen if context.window else None
    if screen is None:
        return
    editor = next((a for a in screen.areas if a.type == "IMAGE_EDITOR"), None)
    if editor is None:
        bpy.ops.wm.window_new()
        editor = context.window_manager.windows[-1].screen.areas[0]
        editor.type = "IMAGE_EDITOR"
    editor.spaces.active.image = image


class RESTYLE_OT_preview(bpy.types.Operator):
    """Render the active camera (or this viewport) and show it stylized as 'Restyle Preview'"""

    bl_idname = "restyle.preview"
    bl_label = "Stylized Preview"
    bl_options = {"REGISTER"}

    size: IntProperty(name="Size", description="Longest side in pixels (0: the scene's "
                      "Preview Size)", default=0, min=0, max=4096)
    model: StringProperty(name="Model", description="Style model name or folder (empty: "
                          "the panel's style)", default="")

    def execute(self, context):
        try:
            run = start_preview(context, self.size, self.model or current_model(context.scene))
        except Exception as exc:  # bad scene/settings or worker start-up: say why
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if bpy.app.background or context.window is None:
            return self._wait(run)
        bpy.app.timers.register(lambda: self._poll(run), first_interval=_POLL_S)
        self.report({"INFO"}, "Stylizing the preview...")
        return {"FINISHED"}

    def _wait(self, run: PreviewRun) -> set:
        """Headless: block until the worker answers, then fill the image."""
        while (state := run.client.job(run.job_id))["state"] not in _TERMINAL:
            time.sleep(_POLL_S / 2)
        try:
            finish_preview(run, state)
        except RuntimeError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}

    @staticmethod
    def _poll(run: PreviewRun) -> float | None:
        """Timer: check the job; on completion show the image (None stops the timer)."""
        try:
            state = run.client.job(run.job_id)
            if state["state"] not in _TERMINAL:
                return _POLL_S
            image = finish_preview(run, state)
            show_in_image_editor(bpy.context, image)
        except Exception as exc:  # the timer must not raise into Blender's event loop
            print(f"Restyle preview failed: {exc}")
        return None


def register() -> None:
    bpy.utils.register_class(RESTYLE_OT_preview)


def unregister() -> None:
    bpy.utils.unregister_class(RESTYLE_OT_preview)
