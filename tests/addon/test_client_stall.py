"""The blocking client call scripts use (``wait_job``) never waits forever on a stuck job.

A real worker: a job queued behind a long training makes no progress, which is what a
job of a worker whose queue has stopped looks like from outside.
"""

from __future__ import annotations

import sys
import time

import pytest
from blender_scene import ASSETS, STYLE_PAINTING

from restyle.addon.worker.client import JobStalled, WorkerClient, find_worker_python


def test_wait_job_fails_on_a_job_that_makes_no_progress(tmp_path):
    client = WorkerClient(find_worker_python() or sys.executable, jobs_dir=tmp_path / "jobs",
                          allow_roots=[ASSETS.parent.parent], device="cpu",
                          env={"RESTYLE_CACHE": str(tmp_path / "cache")})
    train = {"styles": [STYLE_PAINTING], "content": [next((ASSETS / "crate").glob("*.jpg"))]}
    try:
        client.wait_ready(120)
        long_job = client.submit("train", **train, settings={"steps": 100_000, "size": 32})
        stuck = client.submit("train", **train, settings={"steps": 3, "size": 32})
        start = time.monotonic()
        with pytest.raises(JobStalled, match="made no progress for 2 s"):
            client.wait_job(stuck, timeout=120, stall_timeout=2)
        assert time.monotonic() - start < 60  # it gave up; it did not wait for the queue
        client.cancel(stuck)
        client.cancel(long_job)
    finally:
        client.stop()
