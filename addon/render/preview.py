"""``restyle.preview``: render the view, stylize it in the worker, show ``Restyle Preview``.

The render (active camera, or the current viewport when there is one) is a plain Cycles
or Workbench image in a fresh job folder; the worker stylizes it with the panel's style
model like any texture. Headless (``blender -b`` / the bpy module) the operator waits
for the result; with a UI it polls from a timer so Blender stays responsive, then opens
the image in an Image Editor.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import bpy
import numpy as np
from bpy.props import IntProperty, StringProperty

from ...core.protocol import STYLIZE
from ..errors import REPORTED, AddonError
from ..worker import worker_job
from ..worker.worker_job import WorkerJob
from .views import camera_view, render_views, viewport_view

PREVIEW_IMAGE = "Restyle Preview"
_POLL_S = 0.25


def current_model(scene: bpy.types.Scene) -> str:
    """The style model the panel points at (a shipped style or the last trained model)."""
    settings = scene.restyle
    trained = str(settings.get("last_model", ""))  # set by a finished Stylize run
    if settings.style_source == "IMAGES" or getattr(settings, "fit_to_scene", False):
        if trained:
            return trained
        raise AddonError("No trained style model yet: press Stylize once to train it, "
                           "or pick a shipped style for the preview")
    if settings.shipped_style in {"", "NONE"}:
        raise AddonError("No style model available: this build has no shipped style; "
                           "train one from your style images first")
    return settings.shipped_style


class PreviewRun:
    """One preview. Creating it picks the view; ``step()`` renders it, then drives the job.

    The job is a ``WorkerJob`` like a stylize run's: a hung or dead worker is dropped,
    and the job is deleted on the worker once its result is fetched.
    """

    def __init__(self, context: bpy.types.Context, size: int, model: str) -> None:
        from .. import session
        from ..preferences import get_prefs

        scene = context.scene
        settings = scene.restyle_render
        self.scene_name = scene.name
        self.prefs = get_prefs(context)
        self.model = model
        style = scene.restyle  # look like the final result; a render never tiles
        self.settings = {"strength": float(style.strength),
                         "preserve_color": bool(style.keep_colors), "seamless": "off"}
        self.view = viewport_view(context) or camera_view(scene)  # needs the operator's area
        self.size = size or settings.preview_size
        self.engine, self.samples = settings.engine, settings.samples
        self.job_dir = session.new_job_dir()
        self.render: Path | None = None
        self.image: bpy.types.Image | None = None
        self.error = ""
        self.worker = WorkerJob(lambda: session.get_client(self.prefs), session.drop_client)

    def step(self) -> bool:
        """The render, or one worker step (requests run on a thread); True while going on."""
        if self.render is None:
            self._prepare()
            return True
        event = self.worker.step()
        if event == worker_job.FETCHED:
            self.image = show_result(self.worker.results[0], self.render)
            return False
        if event == worker_job.ENDED:
            job = self.worker.job
            self.error = f"Preview {job['state']}: {job.get('message') or 'no message'}"
            return False
        return True

    def _prepare(self) -> None:
        """Render the view into the job folder and hand the job to the worker job."""
        scene = bpy.data.scenes[self.scene_name]
        (self.render,) = render_views(scene, [self.view], self.job_dir, self.size, self.engine,
                                      self.samples, prefix="preview")
        self.worker.submit({"kind": STYLIZE, "model": self.model,
                            "images": [{"ref": str(self.render)}], "settings": self.settings},
                           self.job_dir / "results")

    def cancel(self) -> None:
        """Stop the worker's job (Esc), without waiting for the worker to answer."""
        self.worker.cancel()


def show_result(path: Path, render: Path) -> bpy.types.Image:
    """Copy the stylized render at ``path`` into ``Restyle Preview`` (made or resized)."""
    loaded = bpy.data.images.load(str(path), check_existing=False)
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
    image["restyle_render"] = str(render)  # the plain render it was made from
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

    _run: PreviewRun | None = None
    _timer = None

    def execute(self, context):
        try:
            run = PreviewRun(context, self.size, self.model or current_model(context.scene))
            if bpy.app.background or context.window is None:
                while run.step():
                    time.sleep(_POLL_S / 2)
                return self._end(context, run)
        except REPORTED as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self._run = run
        self._timer = context.window_manager.event_timer_add(_POLL_S, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        run = self._run
        try:
            if event.type == "ESC" and event.value == "PRESS":
                run.cancel()
                run.error = "Preview cancelled"
            elif event.type != "TIMER":
                return {"PASS_THROUGH"}
            elif run.step():
                return {"RUNNING_MODAL"}
        except REPORTED as exc:
            run.error = str(exc)
        context.window_manager.event_timer_remove(self._timer)
        if run.image is not None:
            show_in_image_editor(context, run.image)
        return self._end(context, run)

    def _end(self, context, run: PreviewRun) -> set:
        shutil.rmtree(run.job_dir, ignore_errors=True)
        if run.error or run.image is None:
            self.report({"ERROR"}, run.error or "Preview produced no image")
            return {"CANCELLED"}
        self.report({"INFO"}, f"{PREVIEW_IMAGE}: {run.image.size[0]}x{run.image.size[1]}")
        return {"FINISHED"}


classes = (RESTYLE_OT_preview,)
