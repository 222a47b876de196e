"""``WorkerJob``, the one job driver of stylize runs and previews, on a real local worker."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from served import JOB_S, START_S

from restyle.addon.worker import worker_job
from restyle.addon.worker.client import WorkerClient, WorkerDied, WorkerError
from restyle.addon.worker.worker_job import WorkerHung, WorkerJob


def _drive(job: WorkerJob, until: tuple[str, ...], timeout: float = JOB_S) -> list[str]:
    """Step ``job`` (as a timer would) until one of ``until``; the events seen, in order."""
    events, deadline = [], time.monotonic() + timeout
    while not events or events[-1] not in until:
        assert time.monotonic() < deadline, f"no {until} within {timeout} s: {events}"
        event = job.step()
        if event is not None:
            events.append(event)
        time.sleep(0.02)
    return events


def _body(model: str, image: Path) -> dict:
    return {"kind": "stylize", "model": model, "images": [{"ref": str(image)}],
            "settings": {"seamless": "off"}}


def test_a_job_is_fetched_then_deleted_on_the_worker(worker: WorkerClient, tiny_model: str,
                                                     inputs: Path, tmp_path: Path) -> None:
    dropped = []
    job = WorkerJob(lambda: worker, lambda client, kill: dropped.append(kill))
    job.submit(_body(tiny_model, inputs / "content.png"), tmp_path / "results")
    events = _drive(job, (worker_job.FETCHED, worker_job.ENDED))
    assert events[:2] == [worker_job.SENDING, worker_job.SUBMITTED]
    assert events[-2:] == [worker_job.FETCHING, worker_job.FETCHED], job.job
    assert [path.name for path in job.results] == ["000_content.png"]
    assert job.results[0].is_file() and job.step() is None  # over: nothing more to do

    def deleted() -> bool:
        try:
            worker.job(job.id)
        except WorkerError as error:
            return error.status == 404
        return False

    deadline = time.monotonic() + 30
    while not deleted():
        assert time.monotonic() < deadline, "the finished job stayed on the worker"
        time.sleep(0.1)
    assert dropped == []


def test_a_failed_job_ends_with_the_workers_message(worker: WorkerClient, inputs: Path,
                                                    tmp_path: Path) -> None:
    train = worker.submit("train", styles=[inputs / "style.png"],
                          content=[inputs / "content.png"], settings={"steps": 10**6})
    job = WorkerJob(lambda: worker, lambda client, kill: None)
    job.submit(_body(train, inputs / "content.png"), tmp_path / "results")
    _drive(job, (worker_job.SUBMITTED,))
    worker.cancel(train)  # the job that should provide the model will never have one
    assert _drive(job, (worker_job.FETCHED, worker_job.ENDED))[-1] == worker_job.ENDED
    assert job.job["state"] == "failed" and "nothing to stylize with" in job.job["message"]
    assert job.results is None


def test_a_dead_worker_is_dropped_and_reported(make_client, tiny_model: str, inputs: Path,
                                               tmp_path: Path) -> None:
    client = make_client()
    dropped = []
    job = WorkerJob(lambda: client, lambda gone, kill: dropped.append((gone, kill)))
    job.submit(_body(tiny_model, inputs / "content.png"), tmp_path / "results")
    client.start()  # as the session's get_client does
    try:
        _drive(job, (worker_job.SENDING,))
        os.kill(client.pid, signal.SIGKILL)
        with pytest.raises(WorkerDied):
            _drive(job, (worker_job.FETCHED, worker_job.ENDED))
    finally:
        client.stop()
    assert dropped == [(client, False)]


def test_a_silent_worker_is_hung_and_killed(make_client, tiny_model: str, inputs: Path,
                                            tmp_path: Path) -> None:
    client = make_client()
    dropped = []
    job = WorkerJob(lambda: client, lambda gone, kill: dropped.append((gone, kill)),
                    no_answer_s=2.0)
    job.submit(_body(tiny_model, inputs / "content.png"), tmp_path / "results")
    client.wait_ready(START_S)
    os.kill(client.pid, signal.SIGSTOP)
    try:
        with pytest.raises(WorkerHung, match="did not answer for") as hung:
            _drive(job, (worker_job.FETCHED, worker_job.ENDED), timeout=60)
    finally:
        os.kill(client.pid, signal.SIGCONT)
        client.stop()
    assert not hung.value.remote and dropped == [(client, True)]
