"""Jobs and the queue that runs them one at a time in a worker thread, in order.

One compute job at a time keeps memory bounded and makes the order a client
submits in the order results arrive. HTTP handlers only read snapshots and set
cancel events, so the API answers while a job runs.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Cancelled, RestyleError
from ..protocol import CANCELLED, DONE, FAILED, LIVE_STATES, QUEUED, RUNNING
from .log import say
from .refs import CheckedImage


@dataclass(frozen=True)
class ImageInput:
    """An image to stylize with its own StylizeSettings (per-image scale, seamless)."""

    info: CheckedImage
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
    uploads: frozenset[str] = frozenset()  # upload ids among the inputs (deleted with the job)
    train_settings: Any = None
    device: str = "cpu"  # where the stylize model is loaded
    state: str = QUEUED
    progress: float = 0.0
    phase: str = QUEUED
    message: str = ""
    results: list[dict] = field(default_factory=list)
    model: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    touched: float = field(default_factory=time.monotonic)  # last sign of life (monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def live(self) -> bool:
        """Queued or running (its inputs are still needed)."""
        return self.state in LIVE_STATES

    def report(self, fraction: float, phase: str, message: str = "") -> None:
        """Progress callback for core: never lets the bar go backwards; a sign of life."""
        with self._lock:
            self.progress = max(self.progress, min(1.0, max(0.0, fraction)))
            self.phase, self.message = phase, message
            self.touched = time.monotonic()

    def finish(self, state: str, message: str) -> bool:
        """Enter a final state (done, failed, cancelled) unless already in one; True if it did."""
        with self._lock:
            if not self.live:
                return False
            self._finish(state, message)
            return True

    def fail_if_stalled(self, timeout_s: float) -> bool:
        """Fail a running job silent for ``timeout_s`` and ask it to stop; True if it did."""
        with self._lock:
            idle = time.monotonic() - self.touched
            if self.state != RUNNING or idle < timeout_s:
                return False
            self._finish(
                FAILED,
                f"Job {self.id} made no progress for {idle:.0f} s in phase '{self.phase}' and "
                f"was stopped (the worker's --stall-timeout-s is {timeout_s:g} s). Check the "
                "inputs are readable and the worker's disk and device are not stuck, then "
                "run it again.",
            )
        self.cancel.set()
        return True

    def _finish(self, state: str, message: str) -> None:
        self.state, self.message, self.finished = state, message, time.time()
        self.phase = state
        if state == DONE:
            self.progress = 1.0

    def begin(self) -> bool:
        """queued -> running; False when the job was cancelled while it waited."""
        with self._lock:
            if self.state != QUEUED:
                return False
            self.state, self.phase, self.started = RUNNING, "starting", time.time()
            self.touched = time.monotonic()
            return True

    def request_cancel(self) -> None:
        """Stop a running job at its next core check; end a queued one at once."""
        self.cancel.set()
        with self._lock:
            if self.state == QUEUED:
                self._finish(CANCELLED, "Cancelled before it started; nothing was written.")

    def snapshot(self) -> dict:
        """The job state as the API returns it (a consistent copy)."""
        with self._lock:
            eta = None
            if self.state == RUNNING and self.started and 0.01 < self.progress < 1.0:
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
    """FIFO of jobs run by one daemon thread with ``run(job)``.

    Nothing a job does can end the runner: every failure, including a log line
    that cannot be written (disk full), is caught. A job silent for longer than
    ``stall_timeout_s`` is failed and its thread abandoned to a fresh runner, so
    the jobs behind it still run; the stuck thread exits when its call returns.
    """

    def __init__(self, run: Callable[[Job], None], stall_timeout_s: float | None = None) -> None:
        self._run = run
        self.stall_timeout_s = stall_timeout_s
        self._jobs: dict[str, Job] = {}
        self._pending: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self.running: Job | None = None
        self._runner = self._new_runner()

    def start(self) -> None:
        """Start the runner thread, and the stall watchdog when a timeout is set."""
        self._runner.start()
        if self.stall_timeout_s:
            period = min(1.0, self.stall_timeout_s / 4)
            threading.Thread(target=self._watch, args=(period,), name="restyle-stall-watch",
                             daemon=True).start()

    @property
    def alive(self) -> bool:
        """False if the runner thread has ended (jobs would never run)."""
        return self._runner.is_alive()

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

    def all(self) -> list[Job]:
        """Every job this worker knows, in no particular order."""
        with self._lock:
            return list(self._jobs.values())

    def finished_before(self, cutoff: float) -> list[Job]:
        """Jobs that ended (done, failed, cancelled) before the ``time.time()`` ``cutoff``."""
        return [job for job in self.all() if job.finished and job.finished < cutoff]

    def waiting(self) -> int:
        """How many jobs are queued and not yet started."""
        return sum(job.state == QUEUED for job in self.all())

    def shutdown(self) -> None:
        """Cancel everything and let the runner thread end."""
        for job in self.all():
            if job.live:
                job.request_cancel()
        self._pending.put(None)

    def fail_stalled(self) -> Job | None:
        """Fail the running job if it is stalled and hand the queue to a new runner."""
        with self._lock:
            job = self.running
            if job is None or not self.stall_timeout_s:
                return None
            if not job.fail_if_stalled(self.stall_timeout_s):
                return None
            self.running = None
            self._runner = self._new_runner()
            self._runner.start()
        _log(f"job {job.id} failed: {job.message}")
        return job

    def _new_runner(self) -> threading.Thread:
        return threading.Thread(target=self._loop, name="restyle-jobs", daemon=True)

    def _watch(self, period: float) -> None:
        while True:
            time.sleep(period)
            self.fail_stalled()

    def _is_runner(self) -> bool:
        with self._lock:
            return self._runner is threading.current_thread()

    def _loop(self) -> None:
        """Run queued jobs in order until ``shutdown`` or until replaced by a new runner."""
        while self._is_runner() and (job := self._pending.get()) is not None:
            try:
                self._run_one(job)
            except Exception:  # never reached by design; the runner must outlive any bug
                _log("runner error:\n" + traceback.format_exc())

    def _run_one(self, job: Job) -> None:
        if not job.begin():
            return
        with self._lock:
            self.running = job
        _log(f"job {job.id} {job.kind} started: {len(job.styles)} style, "
             f"{len(job.content)} content, {len(job.images)} image(s)")
        state, message = DONE, "Finished."
        try:
            self._run(job)
        except Cancelled:
            state, message = CANCELLED, "Cancelled on request; nothing was written."
        except RestyleError as error:
            state, message = FAILED, str(error)
        except Exception as error:  # a bug must fail the job, not the worker
            _log(traceback.format_exc())
            state, message = FAILED, (
                f"Internal error in the worker ({type(error).__name__}: {error}); "
                "see the worker log."
            )
        job.finish(state, message)  # no-op when the watchdog already failed it
        with self._lock:
            if self.running is job:
                self.running = None
        snap = job.snapshot()
        _log(f"job {job.id} {snap['state']} after "
             f"{(snap['finished'] or 0) - (snap['started'] or 0):.1f} s: {snap['message']}")


def _log(line: str) -> None:
    """One line to the worker log, so a crash report shows what was running."""
    say(f"restyle worker: {line}")
