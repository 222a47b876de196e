"""Jobs and the queue that runs them one at a time in a worker thread, in order.

One compute job at a time keeps memory bounded and makes the order a client
submits in the order results arrive. HTTP handlers only read snapshots and set
cancel events, so the API answers while a job runs.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Cancelled, RestyleError
from .refs import ImageInfo


@dataclass(frozen=True)
class ImageInput:
    """An image to stylize with its own StylizeSettings (per-image scale, seamless)."""

    info: ImageInfo
    settings: Any


def new_id() -> str:
    """A fresh job or upload id: 32 hex digits, unguessable, safe as a folder name."""
    return uuid.uuid4().hex


@dataclass
class Job:
    """One submitted job: its checked inputs and its live state."""

    id: str
    kind: str
    folder: Path
    styles: list[Path] = field(default_factory=list)
    content: list[Path] = field(default_factory=list)
    images: list[ImageInput] = field(default_factory=list)
    model_ref: str | Job | None = None  # name or folder, or the train job whose model to use
    train_settings: Any = None
    device: str = "cpu"  # where the stylize model is loaded
    state: str = "queued"
    progress: float = 0.0
    phase: str = "queued"
    message: str = ""
    results: list[dict] = field(default_factory=list)
    model: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def report(self, fraction: float, phase: str, message: str = "") -> None:
        """Progress callback for core: never lets the bar go backwards."""
        with self._lock:
            self.progress = max(self.progress, min(1.0, max(0.0, fraction)))
            self.phase, self.message = phase, message

    def finish(self, state: str, message: str) -> None:
        """Enter a final state (done, failed, cancelled)."""
        with self._lock:
            self._finish(state, message)

    def _finish(self, state: str, message: str) -> None:
        self.state, self.message, self.finished = state, message, time.time()
        self.phase = state
        if state == "done":
            self.progress = 1.0

    def begin(self) -> bool:
        """queued -> running; False when the job was cancelled while it waited."""
        with self._lock:
            if self.state != "queued":
                return False
            self.state, self.phase, self.started = "running", "starting", time.time()
            return True

    def request_cancel(self) -> None:
        """Stop a running job at its next core check; end a queued one at once."""
        self.cancel.set()
        with self._lock:
            if self.state == "queued":
                self._finish("cancelled", "Cancelled before it started; nothing was written.")

    def snapshot(self) -> dict:
        """The job state as the API returns it (a consistent copy)."""
        with self._lock:
            eta = None
            if self.state == "running" and self.started and 0.01 < self.progress < 1.0:
                elapsed = time.time() - self.started
                eta = round(elapsed * (1.0 - self.progress) / self.progress, 1)
            return {
                "id": self.id,
                "kind": self.kind,
                "state": self.state,
                "progress": round(self.progress, 6),
                "phase": self.phase,
                "message": self.message,
                "eta_s": eta,
                "results": list(self.results),
                "model": self.model,
                "created": self.created,
                "started": self.started,
                "finished": self.finished,
            }


class JobQueue:
    """FIFO of jobs run by one daemon thread with ``run(job)``."""

    def __init__(self, run: Callable[[Job], None]) -> None:
        self._run = run
        self._jobs: dict[str, Job] = {}
        self._pending: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self.running: Job | None = None
        self._thread = threading.Thread(target=self._loop, name="restyle-jobs", daemon=True)

    def start(self) -> None:
        """Start the runner thread."""
        self._thread.start()

    def add(self, job: Job) -> None:
        """Queue a job behind the ones already waiting."""
        with self._lock:
            self._jobs[job.id] = job
        self._pending.put(job)

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        with self._lock:
            return self._jobs.get(job_id)

    def forget(self, job_id: str) -> None:
        """Drop a finished job from the registry (its id then answers 404)."""
        with self._lock:
            self._jobs.pop(job_id, None)

    def finished_before(self, cutoff: float) -> list[Job]:
        """Jobs that ended (done, failed, cancelled) before the ``time.time()`` ``cutoff``."""
        with self._lock:
            return [job for job in self._jobs.values() if job.finished and job.finished < cutoff]

    def waiting(self) -> int:
        """How many jobs are queued and not yet started."""
        with self._lock:
            return sum(job.state == "queued" for job in self._jobs.values())

    def shutdown(self) -> None:
        """Cancel everything and let the runner thread end."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.state in ("queued", "running"):
                job.request_cancel()
        self._pending.put(None)

    def _loop(self) -> None:
        """Run queued jobs in order until ``shutdown``."""
        while (job := self._pending.get()) is not None:
            if not job.begin():
                continue
            self.running = job
            _log(f"job {job.id} {job.kind} started: {len(job.styles)} style, "
                 f"{len(job.content)} content, {len(job.images)} image(s)")
            try:
                self._run(job)
                job.finish("done", "Finished.")
            except Cancelled:
                job.finish("cancelled", "Cancelled on request; nothing was written.")
            except RestyleError as error:
                job.finish("failed", str(error))
            except Exception as error:  # a bug must fail the job, not the worker
                traceback.print_exc()
                job.finish(
                    "failed",
                    f"Internal error in the worker ({type(error).__name__}: {error}); "
                    "see the worker log.",
                )
            finally:
                self.running = None
                snap = job.snapshot()
                _log(f"job {job.id} {snap['state']} after "
                     f"{(snap['finished'] or 0) - (snap['started'] or 0):.1f} s: {snap['message']}")


def _log(line: str) -> None:
    """One line to the worker log (stderr), so a crash report shows what was running."""
    print(f"restyle worker: {line}", file=sys.stderr, flush=True)
