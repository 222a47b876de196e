"""The job queue's runner thread in-process: what happens when it cannot go on."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.service.jobs import Job, JobQueue


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_runner_that_ends_is_seen_as_dead(tmp_path: Path) -> None:
    """SystemExit is not an error a job can catch; the thread ends and ``alive`` says so."""

    def run(_job: Job) -> None:
        raise SystemExit

    jobs = JobQueue(run)
    jobs.start()
    assert jobs.alive
    jobs.add(Job(id="a" * 32, kind="train", folder=tmp_path / "a"))
    deadline = time.monotonic() + 10
    while jobs.alive:
        assert time.monotonic() < deadline, "the runner thread did not end"
        time.sleep(0.01)
    assert not jobs.alive  # /health answers 503 and POST /jobs is refused from here on


def test_a_failing_job_leaves_the_runner_alive(tmp_path: Path) -> None:
    def run(job: Job) -> None:
        if job.id.startswith("b"):
            raise RuntimeError("a bug")

    jobs = JobQueue(run)
    jobs.start()
    bad, good = (Job(id=c * 32, kind="train", folder=tmp_path / c) for c in "bc")
    jobs.add(bad)
    jobs.add(good)
    deadline = time.monotonic() + 10
    while good.state != "done":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert bad.state == "failed" and "RuntimeError: a bug" in bad.message
    assert jobs.alive
    jobs.shutdown()
