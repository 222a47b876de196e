"""One stylize run, from discovery to write-back, advanced one small step at a time.

The same ``RestyleRun.step`` drives both modes: a modal operator calls it on a timer
(Blender stays responsive), and under ``blender -b`` / the bpy module the operator calls
it in a loop. Nothing in the scene changes until the whole job has succeeded; a failure,
a cancel or a dead worker leaves it exactly as it was.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import bpy

from ..core import protocol
from . import session
from .discovery import Discovery, discover
from .errors import REPORTED
from .job_inputs import (
    ExportedTexture,
    build_restyle_job,
    export_style_images,
    export_textures,
    needs_training,
)
from .paths import output_folder
from .preferences import get_prefs
from .render.content import RenderContent, render_content_steps
from .run_states import CANCELLED, DONE, FAILED, RUNNING, STARTING, label
from .shading import node_materials as objects_materials
from .worker import worker_job
from .worker.client import WorkerDied
from .worker.worker_job import WorkerHung, WorkerJob
from .writeback import apply_results, showing_originals

#: Runs in progress, by scene name (one per scene); the cancel operator looks here.
ACTIVE: dict[str, RestyleRun] = {}

#: Shown (and checked by the operators' poll) while a run is going.
BUSY_MESSAGE = "A Restyle run is already going: cancel it or wait"
REVERT_BUSY_MESSAGE = "A Restyle run is going: cancel it or wait for it before reverting"


class RestyleRun:
    """One run. Creating it only discovers textures; ``step()`` does the rest bit by bit.

    Steps: export the textures and style images, render one view per step (training
    renders, texel-density passes), then the worker job (``WorkerJob``: start the
    worker, submit, poll, fetch), then write back. No step waits on the network.
    """

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
        self.worker = WorkerJob(lambda: session.get_client(self.prefs), session.drop_client)
        self.stylized: list[str] = []
        self.textures: list[ExportedTexture] = []
        self.renders = RenderContent()
        self.body: dict | None = None  # the job body, once preparation is over
        self.out_dir = output_folder(self.prefs.output_dir, bpy.data.filepath, bpy.path.abspath)
        self.job_dir = session.new_job_dir()
        self._preparing = self._prepare(context.scene, list(objects))
        self._set_ui(state=STARTING, progress=0.0, phase="Preparing", eta=-1.0)

    # The worker side, as scripts and tests see it.
    job_id = property(lambda self: self.worker.id, doc="The job's id once the worker has it.")
    job = property(lambda self: self.worker.job, doc="The job state the worker last sent.")

    @property
    def no_answer_s(self) -> float:
        """Seconds without any answer after which the worker is taken as hung."""
        return self.worker.no_answer_s

    @no_answer_s.setter
    def no_answer_s(self, seconds: float) -> None:
        self.worker.no_answer_s = seconds

    @property
    def no_progress_s(self) -> float | None:
        """Seconds a job may keep the same state before the worker is taken as stuck."""
        return self.worker.no_progress_s

    @no_progress_s.setter
    def no_progress_s(self, seconds: float | None) -> None:
        self.worker.no_progress_s = seconds

    # ----------------------------------------------------------------- preparing
    def _prepare(self, scene, objects):
        """Exports, then one render per ``next()``; sets ``self.body`` at the end."""
        settings = scene.restyle
        self.textures = export_textures(self.discovery.textures, self.job_dir,
                                        settings.max_size, self.skipped)
        if not self.textures:
            return
        training = needs_training(settings)
        style_paths = export_style_images(settings, self.job_dir) if training else None
        content = self._training_content(scene, settings) if training else None
        yield "Exported the textures"
        renders = render_content_steps(scene, objects, [t.use.image.name for t in
                                                        self.textures], self.job_dir, training)
        while True:
            with showing_originals():  # a re-run learns from the originals, not the last look
                try:
                    phase = next(renders)
                except StopIteration as stop:
                    self.renders = stop.value
                    break
            yield phase
        self.body = build_restyle_job(bpy.context, self.textures, settings,
                                      extra_content=self.renders.renders,
                                      image_scales=self.renders.scales,
                                      style_paths=style_paths, content=content)

    def _training_content(self, scene, settings) -> list[Path]:
        """Every colour texture of the scene, in scene order, as training content.

        So "Stylize Selected" and "Stylize Scene" train the same model (one consistent
        look) and the worker's cache, keyed by the content bytes, serves both.
        """
        scene_uses = discover(objects_materials(scene.objects)).textures
        exported = {tex.use.name: tex.path for tex in self.textures}
        others = [use for use in scene_uses if use.name not in exported]
        for tex in export_textures(others, self.job_dir / "content", settings.max_size, {}):
            exported[tex.use.name] = tex.path
        return [exported[use.name] for use in scene_uses if use.name in exported]

    # ----------------------------------------------------------------- stepping
    def step(self) -> str:
        """Advance by one short piece of work; returns RUNNING until the run is over.

        At most one render, one file export pass or one write-back; worker requests run
        on a thread, so a hung worker never holds the caller up.
        """
        if self.state != RUNNING:
            return self.state
        try:
            self._advance()
        except WorkerHung as exc:  # WorkerJob has dropped it (a local one killed)
            self.error = (f"{exc} Nothing was changed; " + (
                "check the server." if exc.remote else
                "the worker was stopped and the next run starts a new one."))
            return self._finish(FAILED)
        except WorkerDied as exc:
            self.error = f"The stylizer worker stopped unexpectedly; nothing was changed. {exc}"
            return self._finish(FAILED)
        except REPORTED as exc:  # the worker, files, Blender's renders and images
            self.error = str(exc) or type(exc).__name__
            return self._finish(FAILED)
        except BaseException as exc:
            # A bug: still end the run, so the scene is left as it was and not busy for
            # good (and its temp files go), then let it surface as a traceback.
            self.error = f"Restyle hit an internal error ({type(exc).__name__}: {exc})"
            self._finish(FAILED)
            raise
        return self.state

    def _advance(self) -> None:
        if self.cancel_event.is_set():
            self._cancel()
            return
        if self._preparing is not None:
            phase = next(self._preparing, None)
            if phase is not None:
                self._set_ui(phase=phase)
                return
            self._preparing = None
            if self.body is None:  # nothing could be exported: nothing to do
                self._finish(DONE)
            else:
                self.worker.submit(self.body, self.job_dir / "results")
            return
        self._on_worker(self.worker.step())

    def _on_worker(self, event: str | None) -> None:
        """Show what the worker job did; write the results back once they are in."""
        if event == worker_job.SENDING:
            self._set_ui(state=RUNNING, phase="Sending the job")
        elif event == worker_job.SUBMITTED:
            self._set_ui(phase="Queued")
        elif event in (worker_job.UPDATED, worker_job.FETCHING, worker_job.ENDED):
            job = self.worker.job
            self._set_ui(progress=float(job.get("progress") or 0.0),
                         phase=job.get("phase") or job["state"],
                         eta=-1.0 if job.get("eta_s") is None else float(job["eta_s"]))
            if event == worker_job.FETCHING:
                self._set_ui(phase="Fetching the results")
            elif event == worker_job.ENDED:
                state = job["state"]
                self.error = job.get("message") or f"The job was {state}"
                self._finish(FAILED if state == protocol.FAILED else CANCELLED)
        elif event == worker_job.FETCHED:
            items = [(tex.use, path, tex.size)
                     for tex, path in zip(self.textures, self.worker.results, strict=True)]
            self.stylized = apply_results(items, self.out_dir)
            self._finish(DONE)

    # ----------------------------------------------------------------- ending
    def request_cancel(self) -> None:
        """Ask the run to stop (thread-safe: Esc, the Cancel button, or a test thread)."""
        self.cancel_event.set()

    def _cancel(self) -> None:
        """Stop now: tell the worker without waiting for it (it may be the one hanging)."""
        if self._preparing is not None:
            self._preparing.close()
        self.worker.cancel()
        self._finish(CANCELLED)

    def _finish(self, state: str) -> str:
        self.state = state
        self._set_ui(state=state, progress=1.0 if state == DONE else None, eta=-1.0,
                     phase=label(state))
        scene = bpy.data.scenes.get(self.scene_name)
        if scene is not None:
            scene.restyle.last_report = self.report()
            if state == DONE and self.job.get("model"):  # the preview's model
                scene.restyle["last_model"] = self.job["model"]
        self._cleanup()
        return state

    def _cleanup(self) -> None:
        if self._preparing is not None:
            self._preparing.close()
            self._preparing = None
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
