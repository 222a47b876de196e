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
from .discovery import Discovery, discover
from .jobs import (
    ExportedTexture,
    build_restyle_job,
    export_style_images,
    export_textures,
    needs_training,
)
from .paths import output_folder
from .preferences import get_prefs
from .render.content import RenderContent, render_content_steps
from .shading import node_materials as objects_materials
from .worker.background import BackgroundCall
from .worker.client import (
    STALL_TIMEOUT_S,
    JobStalled,
    ProgressWatch,
    WorkerDied,
    WorkerError,
    WorkerTimeout,
)
from .writeback import apply_results, showing_originals

#: Runs in progress, by scene name (one per scene); the cancel operator looks here.
ACTIVE: dict[str, RestyleRun] = {}

RUNNING, DONE, FAILED, CANCELLED = "RUNNING", "DONE", "FAILED", "CANCELLED"
#: A worker that has not answered any request for this long is taken as hung (seconds).
NO_ANSWER_S = 60.0
#: Shown (and checked by the operators' poll) while a run is going.
BUSY_MESSAGE = "A Restyle run is already going: cancel it or wait"
REVERT_BUSY_MESSAGE = "A Restyle run is going: cancel it or wait for it before reverting"


class _Hung(WorkerError):
    """The worker stopped answering, or its job stopped moving: it gets replaced."""


class RestyleRun:
    """One run. Creating it only discovers textures; ``step()`` does the rest bit by bit.

    Steps: export the textures and style images, render one view per step (training
    renders, texel-density passes), start the worker, submit, poll, fetch, write back.
    No step waits on the network: requests run on a thread and a later step reads them.
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
        self.job_id: str | None = None
        self.client = None  # the worker this run talks to, once preparation is over
        self.job: dict = {}
        self.stylized: list[str] = []
        self.textures: list[ExportedTexture] = []
        self.renders = RenderContent()
        self.body: dict | None = None  # the job body, once preparation is over
        self.no_answer_s = NO_ANSWER_S
        self.no_progress_s = STALL_TIMEOUT_S
        self.out_dir = output_folder(self.prefs.output_dir, bpy.data.filepath, bpy.path.abspath)
        self.job_dir = session.new_job_dir()
        self._preparing = self._prepare(context.scene, list(objects))
        self._call: BackgroundCall | None = None
        self._silent_since: float | None = None  # when the worker last left us waiting
        self._watch = ProgressWatch(None)
        self._set_ui(state="STARTING", progress=0.0, phase="Preparing", eta=-1.0)

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
        except _Hung as exc:
            remote = self.client is not None and self.client.is_remote
            session.drop_client(self.client, kill=not remote)
            self.error = (f"{exc} Nothing was changed; " + (
                "check the server." if remote else
                "the worker was stopped and the next run starts a new one."))
            return self._finish(FAILED)
        except WorkerDied as exc:
            session.drop_client(self.client)
            self.error = f"The stylizer worker stopped unexpectedly; nothing was changed. {exc}"
            return self._finish(FAILED)
        except Exception as exc:  # files, images, renders, the worker: all are reported
            self.error = str(exc) or type(exc).__name__
            return self._finish(FAILED)
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
            return
        if self._call is not None:
            self._collect()
            return
        if self.client is None:
            self.client = session.get_client(self.prefs)
        try:
            if not self.client.poll():
                return  # still starting
        except WorkerDied:
            raise
        except WorkerError as exc:  # it never came up: replace it next run
            raise _Hung(str(exc)) from None
        if self.job_id is None:
            self._request("submit", self._submit, self.client)
            self._set_ui(state="RUNNING", phase="Sending the job")
        else:
            self._request("job", self.client.job, self.job_id)

    def _request(self, what: str, fn, *args) -> None:
        """Start the run's next worker request (on a thread); the wait for it starts now."""
        if self._silent_since is None:
            self._silent_since = time.monotonic()
        self._call = BackgroundCall(what, fn, *args)

    def _collect(self) -> None:
        """Handle the pending request if it has answered; notice a worker that does not."""
        call = self._call
        silent = time.monotonic() - self._silent_since
        hung = f"The Restyle worker did not answer for {silent:.0f} s."
        if not call.done:
            if silent > self.no_answer_s:
                raise _Hung(hung)
            return
        self._call = None
        try:
            answer = call.result()
        except WorkerTimeout as exc:
            if call.what != "job":  # a repeated submit could queue the job twice
                raise _Hung(str(exc)) from None
            if silent > self.no_answer_s:
                raise _Hung(hung) from None
            return  # slow, not yet hung: ask again next step
        self._silent_since = None
        if call.what == "submit":
            self.job_id = answer
            self._watch = ProgressWatch(self.no_progress_s)
            self._set_ui(phase="Queued")
        elif call.what == "job":
            self._on_job(answer)
        elif call.what == "fetch":
            self.stylized = apply_results(answer, self.out_dir)
            self._finish(DONE)
            self._forget_job()

    def _submit(self, client) -> str:
        """Upload if remote, then queue the job (on the request thread)."""
        job_id = client.submit(**_with_refs(client, self.body))
        if self.cancel_event.is_set():  # cancelled while this was on its way
            with contextlib.suppress(WorkerError):
                client.cancel(job_id)
        return job_id

    def _on_job(self, job: dict) -> None:
        self.job = job
        state = job["state"]
        self._set_ui(progress=float(job.get("progress") or 0.0),
                     phase=job.get("phase") or state,
                     eta=-1.0 if job.get("eta_s") is None else float(job["eta_s"]))
        if state == "done":
            results = job.get("results") or []
            if len(results) != len(self.textures):
                raise WorkerError(f"The worker returned {len(results)} results for "
                                  f"{len(self.textures)} textures")
            self._set_ui(phase="Fetching the results")
            self._request("fetch", self._fetch, self.client, results)
        elif state in {"failed", "cancelled"}:
            self.error = job.get("message") or f"The job was {state}"
            self._finish(FAILED if state == "failed" else CANCELLED)
            self._forget_job()
        else:
            try:
                self._watch.seen(job)
            except JobStalled as exc:
                raise _Hung(str(exc)) from None

    def _fetch(self, client, results: list[dict]) -> list:
        """Copy or download every result into the run's folder (on the request thread)."""
        folder = self.job_dir / "results"
        folder.mkdir(exist_ok=True)
        items = []
        for index, (tex, result) in enumerate(zip(self.textures, results, strict=True)):
            dest = folder / f"{index:03d}_{Path(result['name']).name}"
            items.append((tex.use, client.fetch_result(self.job_id, result, dest), tex.size))
        return items

    def _forget_job(self) -> None:
        """Results are in (or the job is over): free the worker's disk, without waiting."""
        if self.client is not None and self.job_id is not None:
            BackgroundCall("delete", self.client.delete, self.job_id)

    # ----------------------------------------------------------------- ending
    def request_cancel(self) -> None:
        """Ask the run to stop (thread-safe: Esc, the Cancel button, or a test thread)."""
        self.cancel_event.set()

    def _cancel(self) -> None:
        """Stop now: tell the worker without waiting for it (it may be the one hanging)."""
        if self._preparing is not None:
            self._preparing.close()
        if self.job_id is not None and self.client is not None:
            BackgroundCall("cancel", self.client.cancel, self.job_id)
        self._finish(CANCELLED)

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
