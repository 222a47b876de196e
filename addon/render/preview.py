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

from ..errors import AddonError
from ..worker.background import BackgroundCall
from .views import camera_view, render_views, viewport_view

PREVIEW_IMAGE = "Restyle Preview"
_POLL_S = 0.25
_TERMINAL = {"done", "failed", "cancelled"}


def current_model(scene: bpy.types.Scene) -> str:
    """The style model the panel points at (a shipped style or the last trained model)."""
    settings = scene.restyle
    trained = str(settings.get("last_model", ""))  # set by a finished Stylize run
    if settings.style_source == "IMAGES" or getattr(settings, "fit_to_scene", False):
        if trained:
            return trained
        raise RuntimeError("No trained style model yet: press Stylize once to train it, "
                           "or pick a shipped style for the preview")
    if settings.shipped_style in {"", "NONE"}:
        raise RuntimeError("No style model available: this build has no shipped style; "
                           "train one from your style images first")
    return settings.shipped_style


class PreviewRun:
    """One preview: renders at creation, then ``step()`` submits, polls and fetches."""

    def __init__(self, context: bpy.types.Context, size: int, model: str) -> None:
        from ..preferences import get_prefs
        from ..session import new_job_dir

        scene = context.scene
        settings = scene.restyle_render
        self.prefs = get_prefs(context)
        self.model = model
        style = scene.restyle  # look like the final result; a render never tiles
        self.settings = {"strength": float(style.strength),
                         "preserve_color": bool(style.keep_colors), "seamless": "off"}
        self.job_id: str | None = None
        self.image: bpy.types.Image | None = None
        self.error = ""
        self._call: BackgroundCall | None = None
        view = viewport_view(context) or camera_view(scene)
        self.job_dir = new_job_dir()
        (self.render,) = render_views(scene, [view], self.job_dir,
                                      size or settings.preview_size, settings.engine,
                                      settings.samples, prefix="preview")

    def step(self) -> bool:
        """Look at the pending request or start the next one; True while still on its way.

        Requests run on a thread (``BackgroundCall``): a hung worker never holds the UI.
        """
        from ..session import get_client

        client = get_client(self.prefs)
        call = self._call
        if call is not None:
            if not call.done:
                return True
            self._call = None
            answer = call.result()
            if call.what == "submit":
                self.job_id = answer
            elif call.what == "fetch":
                self.image = show_result(answer, self.render)
                return False
            elif answer["state"] == "done":
                self._call = BackgroundCall("fetch", client.fetch_result, self.job_id,
                                            answer["results"][0], self.job_dir)
            elif answer["state"] in _TERMINAL:
                self.error = f"Preview {answer['state']}: {answer.get('message') or 'no message'}"
                return False
            return True
        if not client.poll():
            return True  # the worker is still starting
        if self.job_id is None:
            self._call = BackgroundCall("submit", self._submit, client)
        else:
            self._call = BackgroundCall("job", client.job, self.job_id)
        return True

    def _submit(self, client) -> str:
        return client.submit("stylize", model=self.model, images=[client.ref(self.render)],
                             settings=self.settings)

    def cancel(self) -> None:
        """Stop the worker's job (Esc), without waiting for the worker to answer."""
        from ..session import get_client

        if self.job_id is not None:
            BackgroundCall("cancel", get_client(self.prefs).cancel, self.job_id)


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
        from ..worker.client import WorkerError

        try:
            run = PreviewRun(context, self.size, self.model or current_model(context.scene))
            if bpy.app.background or context.window is None:
                while run.step():
                    time.sleep(_POLL_S / 2)
                return self._end(context, run)
        except (AddonError, RuntimeError, ValueError, OSError, WorkerError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self._run = run
        self._timer = context.window_manager.event_timer_add(_POLL_S, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        from ..worker.client import WorkerError

        run = self._run
        try:
            if event.type == "ESC" and event.value == "PRESS":
                run.cancel()
                run.error = "Preview cancelled"
            elif event.type != "TIMER":
                return {"PASS_THROUGH"}
            elif run.step():
                return {"RUNNING_MODAL"}
        except (AddonError, RuntimeError, OSError, WorkerError) as exc:
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
