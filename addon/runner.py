"""One stylize run, from discovery to write-back, advanced one small step at a time.

The same ``RestyleRun.step`` drives both modes: a modal operator calls it on a timer
(Blender stays responsive), and under ``blender -b`` / the bpy module the operator calls
it in a loop. Nothing in the scene changes until the whole job has succeeded; a failure,
a cancel or a dead worker leaves it exactly as it was.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from pathlib import Path

import bpy

from . import session
from .discovery import Discovery, discover, objects_materials
from .jobs import (
    ExportedTexture,
    build_restyle_job,
    export_style_images,
    export_textures,
    needs_training,
)
from .paths import output_folder
from .preferences import get_prefs
from .render.content import prepare_render_content
from .worker.client import WorkerDied, WorkerError
from .writeback import apply_results, showing_originals

#: Runs in progress, by scene name (one per scene); the cancel operator looks here.
ACTIVE: dict[str, RestyleRun] = {}

RUNNING, DONE, FAILED, CANCELLED = "RUNNING", "DONE", "FAILED", "CANCELLED"


class RestyleRun:
    """Discovers and exports at creation; ``step()`` then starts, polls and finishes."""

    def __init__(self, context, objects, label: str) -> None:
        self.scene_name = context.scene.name
        self.label = label
        self.started = time.monotonic()
        self.prefs = get_prefs(context)
        settings = context.scene.restyle
        if settings.model_path:
            self.style_label = f"model {Path(settings.model_path).name}"
        elif settings.style_source == "SHIPPED":
            self.style_label = settings.shipped_style
        else:
            self.style_label = "custom style images"
        self.discovery: Discovery = discover(objects_materials(objects))
        self.skipped = dict(self.discovery.skipped)
        self.cancel_event = threading.Event()
        self.state = RUNNING
        self.error = ""
        self.job_id: str | None = None
        self.client = None  # the worker this run talks to, from its first step on
        self.job: dict = {}
        self.stylized: list[str] = []
        self.out_dir = output_folder(self.prefs.output_dir, bpy.data.filepath, bpy.path.abspath)
        self.job_dir = session.new_job_dir()
        try:
            self.textures: list[ExportedTexture] = export_textures(
                self.discovery.textures, self.job_dir, settings.max_size, self.skipped)
            training = needs_training(settings) and bool(self.textures)
            style_paths = export_style_images(settings, self.job_dir) if training else None
            content = self._training_content(context, settings) if training else None
            with showing_originals():  # a re-run learns from the originals, not the last look
                self.renders = prepare_render_content(
                    context.scene, objects, [t.use.image.name for t in self.textures],
                    self.job_dir, training)
            self.body = build_restyle_job(context, self.textures, settings,
                                          extra_content=self.renders.renders,
                                          image_scales=self.renders.scales,
                                          style_paths=style_paths, content=content)
        except Exception:
            self._cleanup()
            raise
        self._set_ui(state="STARTING", progress=0.0, phase="Starting the worker", eta=-1.0)

    def _training_content(self, context, settings) -> list[Path]:
        """Every colour texture of the scene, in scene order, as training content.

        So "Stylize Selected" and "Stylize Scene" train the same model (one consistent
        look) and the worker's cache, keyed by the content bytes, serves both.
        """
        scene_uses = discover(objects_materials(context.scene.objects)).textures
        exported = {tex.use.name: tex.path for tex in self.textures}
        others = [use for use in scene_uses if use.name not in exported]
        for tex in export_textures(others, self.job_dir / "content", settings.max_size, {}):
            exported[tex.use.name] = tex.path
        return [exported[use.name] for use in scene_uses if use.name in exported]

    # ----------------------------------------------------------------- stepping
    def step(self) -> str:
        """Advance by at most one short request; returns RUNNING until the run is over."""
        if self.state != RUNNING:
            return self.state
        if not self.textures:
            return self._finish(DONE)
        try:
            self._advance()
        except WorkerDied as exc:
            session.drop_client(self.client)
            self.error = f"The stylizer worker stopped unexpectedly; nothing was changed. {exc}"
            return self._finish(FAILED)
        except (WorkerError, session.SetupError, OSError, RuntimeError) as exc:
            self.error = str(exc)
            return self._finish(FAILED)
        return self.state

    def _advance(self) -> None:
        if self.cancel_event.is_set():
            if self.job_id is not None and self.client is not None:
                with contextlib.suppress(WorkerError):  # a dead worker has stopped anyway
                    self.client.cancel(self.job_id)
            self._finish(CANCELLED)
            return
        if self.client is None:
            self.client = session.get_client(self.prefs)
        client = self.client
        if not client.poll():
            return  # still starting
        if self.job_id is None:
            self.job_id = client.submit(**_with_refs(client, self.body))
            self._set_ui(state="RUNNING", phase="Queued")
            return
        self.job = client.job(self.job_id)
        state = self.job["state"]
        self._set_ui(progress=float(self.job.get("progress") or 0.0),
                     phase=self.job.get("phase") or state,
                     eta=-1.0 if self.job.get("eta_s") is None else float(self.job["eta_s"]))
        if state == "done":
            self._write_back(client)
            self._finish(DONE)
        elif state in {"failed", "cancelled"}:
            self.error = self.job.get("message") or f"The job was {state}"
            self._finish(FAILED if state == "failed" else CANCELLED)
        if state in {"done", "failed", "cancelled"}:
            with contextlib.suppress(WorkerError):  # results are fetched; free the worker's disk
                client.delete(self.job_id)

    def _write_back(self, client) -> None:
        """Fetch every result first, then switch the materials (all or nothing)."""
        results = self.job.get("results") or []
        if len(results) != len(self.textures):
            raise WorkerError(f"The worker returned {len(results)} results for "
                              f"{len(self.textures)} textures")
        folder = self.job_dir / "results"
        folder.mkdir(exist_ok=True)
        items = []
        for index, (tex, result) in enumerate(zip(self.textures, results, strict=True)):
            dest = folder / f"{index:03d}_{Path(result['name']).name}"
            items.append((tex.use, client.fetch_result(self.job_id, result, dest), tex.size))
        self.stylized = apply_results(items, self.out_dir)

    # ----------------------------------------------------------------- ending
    def request_cancel(self) -> None:
        """Ask the run to stop (thread-safe: Esc, the Cancel button, or a test thread)."""
        self.cancel_event.set()

    def _finish(self, state: str) -> str:
        self.state = state
        self._set_ui(state=state, progress=1.0 if state == DONE else None, eta=-1.0,
                     phase={"DONE": "Done", "FAILED": "Failed", "CANCELLED": "Cancelled"}[state])
        scene = bpy.data.scenes.get(self.scene_name)
        if scene is not None:
            scene.restyle.last_report = self.report()
            if state == DONE and self.job.get("model"):  # the preview's model
                scene.restyle["last_model"] = self.job["model"]
        self._cleanup()
        return state

    def _cleanup(self) -> None:
        if ACTIVE.get(self.scene_name) is self:
            del ACTIVE[self.scene_name]
        shutil.rmtree(self.job_dir, ignore_errors=True)

    def report(self) -> str:
        """What happened, for the operator report and the panel (one item per line)."""
        took = time.monotonic() - self.started
        if self.state == DONE:
            head = (f"Restyled {len(self.stylized)} texture(s) with {self.style_label} "
                    f"in {took:.1f} s" if self.stylized else
                    "No colour textures to restyle (Image Texture nodes feeding a "
                    "Principled BSDF Base Color)")
        elif self.state == CANCELLED:
            head = f"Cancelled after {took:.1f} s; nothing was changed"
        else:
            head = f"Failed after {took:.1f} s: {self.error}"
        lines = [head]
        lines += [f"Skipped {name}: {why}" for name, why in self.skipped.items()]
        lines += self.renders.report_lines() if self.state == DONE else []
        return "\n".join(lines)

    def _set_ui(self, state=None, progress=None, phase=None, eta=None) -> None:
        scene = bpy.data.scenes.get(self.scene_name)
        if scene is None:
            return
        props = scene.restyle
        if state is not None:
            props.job_state = state
        if progress is not None:
            props.job_progress = min(max(progress, 0.0), 1.0)
        if phase is not None:
            props.job_phase = phase
        if eta is not None:
            props.job_eta = eta


def _with_refs(client, body: dict) -> dict:
    """The job body with every local path turned into a ref the worker accepts.

    A local worker reads the paths directly; a remote one gets the files uploaded.
    """
    out = dict(body)
    out["images"] = [{**spec, "ref": client.ref(spec["ref"])} for spec in body["images"]]
    for key in ("styles", "content"):
        if key in body:
            out[key] = [client.ref(path) for path in body[key]]
    return out


def start_run(context, objects, label: str) -> RestyleRun:
    """Create a run for ``objects`` and make it the scene's active run."""
    run = RestyleRun(context, objects, label)
    ACTIVE[run.scene_name] = run
    return run


def abandon_all() -> None:
    """Cancel every run (a file is being loaded or the add-on unregistered): no write-back."""
    for run in list(ACTIVE.values()):
        run.request_cancel()
        run.step()
    ACTIVE.clear()


def run_to_end(run: RestyleRun, interval: float = 0.1) -> str:
    """Step ``run`` until it is over (no UI: scripts and ``blender -b``)."""
    while run.step() == RUNNING:
        time.sleep(interval)
    return run.state
