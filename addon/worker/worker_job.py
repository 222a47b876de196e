"""One job on the worker as a run drives it: submit, poll, fetch, delete; no step waits.

``RestyleRun`` (``addon/runner.py``) and ``PreviewRun`` (``addon/render/preview.py``)
hand their job body to a ``WorkerJob`` and call ``step()`` from a timer or a loop.
Every request runs on a thread (``BackgroundCall``), so a stopped or hung worker never
holds the caller up. A worker that leaves a request unanswered for ``no_answer_s``, or
a job whose state stops moving for ``no_progress_s``, raises ``WorkerHung``; one that
died raises ``WorkerDied``. Either way the worker is dropped first (a hung local one is
killed), so the next run starts a fresh one. A job that ended is deleted on the worker
once its results are fetched, so a long session does not fill the worker's disk.
Standard library only: the runs turn the events ``step()`` returns into UI.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ...core.protocol import CANCELLED, DONE, FAILED
from .background import BackgroundCall
from .client import (
    STALL_TIMEOUT_S,
    JobStalled,
    ProgressWatch,
    WorkerClient,
    WorkerDied,
    WorkerError,
    WorkerTimeout,
)

#: A worker that has not answered any request for this long is taken as hung (seconds).
NO_ANSWER_S = 60.0

# What ``step()`` returns; None: nothing new (a request is on its way, or the worker starts).
SENDING = "sending"  # the job body (and any uploads) is on its way
SUBMITTED = "submitted"  # the worker queued the job: ``id`` is set
UPDATED = "updated"  # ``job`` holds a new state of the queued or running job
FETCHING = "fetching"  # the job is done; its results are being copied or downloaded
FETCHED = "fetched"  # ``results`` holds the result files, in the order of the body's images
ENDED = "ended"  # the job failed or was cancelled on the worker; ``job`` says why


class WorkerHung(WorkerError):
    """The worker stopped answering, or its job stopped moving; it has been dropped."""

    def __init__(self, message: str, remote: bool) -> None:
        super().__init__(message)
        self.remote = remote  # a server (left running) rather than a local worker (killed)


class WorkerJob:
    """One job: ``submit(body, folder)``, then ``step()`` until FETCHED or ENDED.

    ``connect()`` gives the worker client (called once, on the first step after
    ``submit``); ``drop(client, kill)`` forgets a dead or hung one.
    """

    def __init__(self, connect: Callable[[], WorkerClient],
                 drop: Callable[[WorkerClient, bool], None], *,
                 no_answer_s: float = NO_ANSWER_S,
                 no_progress_s: float | None = STALL_TIMEOUT_S) -> None:
        self._connect, self._drop = connect, drop
        self.no_answer_s = no_answer_s
        self.no_progress_s = no_progress_s
        self.client: WorkerClient | None = None
        self.id: str | None = None
        self.job: dict = {}  # the last job state the worker sent
        self.results: list[Path] | None = None
        self._body: dict | None = None
        self._folder: Path | None = None
        self._call: BackgroundCall | None = None
        self._silent_since: float | None = None  # when the worker last left us waiting
        self._watch = ProgressWatch(None)
        self._over = False
        self._lock = threading.Lock()  # the submit thread vs cancel()
        self._cancelled = False
        self._submitted: str | None = None

    def submit(self, body: dict, folder: Path) -> None:
        """Send ``body`` (refs are local paths) on the next steps; results go into ``folder``."""
        self._body, self._folder = body, folder

    def step(self) -> str | None:
        """Look at the pending request or start the next one; returns an event or None."""
        if self._body is None or self._over:
            return None
        try:
            return self._step()
        except WorkerHung as exc:
            self._forget_client(kill=not exc.remote)
            raise
        except WorkerDied:
            self._forget_client(kill=False)
            raise
        except BaseException:
            self._over = True
            raise

    def cancel(self) -> None:
        """Ask the worker to stop the job, without waiting (it may be the one hanging)."""
        self._over = True
        with self._lock:
            self._cancelled = True
            job_id = self._submitted
        if job_id is not None and self.client is not None:
            BackgroundCall("cancel", self.client.cancel, job_id)

    # ------------------------------------------------------------------ internals
    def _step(self) -> str | None:
        if self._call is not None:
            return self._collect()
        if self.client is None:
            self.client = self._connect()
        try:
            if not self.client.poll():
                return None  # still starting
        except WorkerDied:
            raise
        except WorkerError as exc:  # it never came up: replace it next run
            raise self._hung(str(exc)) from None
        if self.id is None:
            self._request("submit", self._send, self.client)
            return SENDING
        self._request("job", self.client.job, self.id)
        return None

    def _request(self, what: str, fn, *args) -> None:
        """Start the next worker request (on a thread); the wait for an answer starts now."""
        if self._silent_since is None:
            self._silent_since = time.monotonic()
        self._call = BackgroundCall(what, fn, *args)

    def _collect(self) -> str | None:
        """Handle the pending request if it has answered; notice a worker that does not."""
        call = self._call
        silent = time.monotonic() - self._silent_since
        hung = f"The Restyle worker did not answer for {silent:.0f} s."
        if not call.done:
            if silent > self.no_answer_s:
                raise self._hung(hung)
            return None
        self._call = None
        try:
            answer = call.result()
        except WorkerTimeout as exc:
            if call.what != "job":  # a repeated submit could queue the job twice
                raise self._hung(str(exc)) from None
            if silent > self.no_answer_s:
                raise self._hung(hung) from None
            return None  # slow, not yet hung: ask again next step
        self._silent_since = None
        if call.what == "submit":
            self.id = answer
            self._watch = ProgressWatch(self.no_progress_s)
            return SUBMITTED
        if call.what == "fetch":
            self.results = answer
            self._end()
            return FETCHED
        return self._on_state(answer)

    def _on_state(self, job: dict) -> str:
        self.job = job
        state = job["state"]
        if state == DONE:
            results = job.get("results") or []
            images = len(self._body["images"])
            if len(results) != images:
                raise WorkerError(f"The worker returned {len(results)} results for "
                                  f"{images} images")
            self._request("fetch", self._fetch, self.client, results)
            return FETCHING
        if state in (FAILED, CANCELLED):
            self._end()
            return ENDED
        try:
            self._watch.seen(job)
        except JobStalled as exc:
            raise self._hung(str(exc)) from None
        return UPDATED

    def _send(self, client: WorkerClient) -> str:
        """Upload if remote, then queue the job (on the request thread)."""
        job_id = client.submit(**_with_refs(client, self._body))
        with self._lock:
            self._submitted = job_id
            cancelled = self._cancelled
        if cancelled:  # cancelled while this was on its way
            with contextlib.suppress(WorkerError):
                client.cancel(job_id)
        return job_id

    def _fetch(self, client: WorkerClient, results: list[dict]) -> list[Path]:
        """Copy or download every result into the folder (on the request thread)."""
        self._folder.mkdir(parents=True, exist_ok=True)
        return [client.fetch_result(self.id, result,
                                    self._folder / f"{index:03d}_{Path(result['name']).name}")
                for index, result in enumerate(results)]

    def _end(self) -> None:
        """The job is over and its results are in: free the worker's disk, without waiting."""
        self._over = True
        BackgroundCall("delete", self.client.delete, self.id)

    def _hung(self, message: str) -> WorkerHung:
        return WorkerHung(message, remote=self.client is not None and self.client.is_remote)

    def _forget_client(self, kill: bool) -> None:
        self._over = True
        if self.client is not None:
            self._drop(self.client, kill)


def _with_refs(client: WorkerClient, body: dict) -> dict:
    """The job body with every local path turned into a ref the worker accepts.

    A local worker reads the paths directly; a remote one gets the files uploaded.
    """
    out = dict(body)
    out["images"] = [{**spec, "ref": client.ref(spec["ref"])} for spec in body["images"]]
    for key in ("styles", "content"):
        if key in body:
            out[key] = [client.ref(path) for path in body[key]]
    return out
