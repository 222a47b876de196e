"""Faults under a real worker: a log that cannot be written, a stuck job, a vanished jobs
folder, stray folders from a killed worker, and uploads that outlive their job."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from served import JOB_S, START_S, png_with_size, serve, wait_until

from restyle.addon.worker.client import WorkerClient, WorkerError

JSON = {"Content-Type": "application/json"}


def test_jobs_run_when_every_log_write_fails(tmp_path: Path, inputs: Path,
                                             tiny_train: dict) -> None:
    """stderr on /dev/full: each write fails with ENOSPC, as on a full disk."""
    served = serve(tmp_path, "--allow-root", str(inputs), log=Path("/dev/full"))
    client = WorkerClient(url=served.url, token=served.token)
    try:
        ids = [client.submit("train", styles=[inputs / "style.png"],
                             content=[inputs / "content.png"],
                             settings={**tiny_train, "seed": seed}) for seed in (5, 6)]
        ids.append(client.submit("stylize", model=ids[0], images=[inputs / "content.png"]))
        states = [client.wait_job(job_id, timeout=JOB_S) for job_id in ids]
        assert [state["state"] for state in states] == ["done"] * 3, states
        assert client.health()["status"] == "ok"
    finally:
        served.stop()


class Lease:
    """A write lease on a file, held by another process: opening the file blocks meanwhile.

    The kernel makes a reader's open() wait until the holder lets go (or up to
    /proc/sys/fs/lease-break-time), a real stuck read like a dead network disk.
    """

    HOLD = ("import fcntl, os, signal, sys\n"
            "signal.signal(signal.SIGIO, signal.SIG_IGN)\n"
            "fd = os.open(sys.argv[1], os.O_RDWR)\n"
            "fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n")

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", self.HOLD, str(path)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "held":
            self.release()
            pytest.skip("this file system does not grant file leases")

    def release(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


def test_a_stuck_job_fails_and_the_queue_goes_on(tmp_path: Path, inputs: Path,
                                                 tiny_model: str) -> None:
    """The stuck job waits on a model file that another process holds a lease on.

    Submitting only checks that the model's files exist (no open), so the lease
    stops the job itself, not the request, whatever the machine's speed.
    """
    if not hasattr(fcntl, "F_SETLEASE"):
        pytest.skip("no file leases on this platform")
    models = tmp_path / "models"
    stuck_model = shutil.copytree(tiny_model, models / "stuck")
    served = serve(tmp_path, "--allow-root", str(models), "--allow-root", str(inputs),
                   "--allow-root", str(Path(tiny_model).parent), "--stall-timeout-s", "15")
    client = WorkerClient(url=served.url, token=served.token)

    def stylize(model: str | Path) -> str:
        return client.submit("stylize", model=model, images=[inputs / "content.png"])

    lease = Lease(stuck_model / "model.json")  # from now on, opening model.json blocks
    try:
        stuck_id, after_id = stylize(stuck_model), stylize(tiny_model)
        state = client.wait_job(stuck_id, timeout=JOB_S)
        assert state["state"] == "failed", state
        assert "no progress" in state["message"] and "--stall-timeout-s" in state["message"]
        after = client.wait_job(after_id, timeout=JOB_S)
        assert after["state"] == "done", after["message"]  # the queue went on
        assert client.health()["status"] == "ok"
        lease.release()  # the stuck thread wakes up, sees it was cancelled, and ends
        lease = None
        assert client.wait_job(stylize(stuck_model), timeout=JOB_S)["state"] == "done"
        assert client.job(stuck_id)["state"] == "failed"  # not overwritten by the late thread
    finally:
        if lease is not None:
            lease.release()
        served.stop()


def test_a_deleted_jobs_folder_is_recreated_and_old_results_are_410(
        worker: WorkerClient, tiny_model: str, inputs: Path, tmp_path: Path) -> None:
    done = worker.wait_job(worker.submit("stylize", model=tiny_model,
                                         images=[inputs / "content.png"]), JOB_S)
    assert done["state"] == "done"
    shutil.rmtree(worker.jobs_dir)
    url, token = worker.endpoint
    remote = WorkerClient(url=url, token=token)
    (result,) = done["results"]
    with pytest.raises(WorkerError, match="gone") as caught:
        remote.fetch_result(done, result, tmp_path / "out.png")
    assert caught.value.status == 410
    with pytest.raises(WorkerError) as caught:
        remote.fetch_result(done, "nothing.png", tmp_path / "out.png")
    assert caught.value.status == 404
    upload = remote.upload(inputs / "content.png")  # the uploads folder comes back
    again = worker.wait_job(worker.submit("stylize", model=tiny_model, images=[upload]), JOB_S)
    assert again["state"] == "done", again["message"]
    assert remote.fetch_result(again, again["results"][0], tmp_path / "again.png").is_file()


def test_uploads_go_with_their_job_unless_a_live_job_needs_them(
        worker: WorkerClient, inputs: Path, tiny_train: dict) -> None:
    url, token = worker.endpoint
    remote = WorkerClient(url=url, token=token)
    upload = remote.upload(inputs / "content.png")
    folder = Path(worker.jobs_dir) / "uploads" / upload
    short = remote.submit("train", styles=[upload], content=[upload], settings=tiny_train)
    long = remote.submit("train", styles=[upload], content=[upload],
                         settings={**tiny_train, "steps": 100_000, "seed": 8})
    assert remote.wait_job(short, JOB_S)["state"] == "done"
    remote.delete(short)
    assert folder.is_dir()  # the long job still needs it
    remote.cancel(long)
    assert remote.wait_job(long, JOB_S)["state"] == "cancelled"
    remote.delete(long)
    assert not folder.exists()


def test_stray_folders_of_a_killed_worker_are_pruned(make_client) -> None:
    client = make_client()
    jobs = Path(client.jobs_dir)
    three_days = time.time() - 3 * 24 * 3600
    old_job, old_upload, old_partial = (jobs / ("a" * 32), jobs / "uploads" / ("b" * 32),
                                        jobs / "uploads" / f".{'c' * 32}.partial")
    young_job, user_folder = jobs / ("d" * 32), jobs / "my notes"
    for folder in (old_job, old_upload, old_partial, young_job, user_folder):
        (folder / "results").mkdir(parents=True)
        (folder / "results" / "file.png").write_bytes(b"x")
    for folder in (old_job, old_upload, old_partial, user_folder):
        os.utime(folder, (three_days, three_days))
    client.wait_ready(START_S)
    try:
        assert wait_until(lambda: not old_job.exists() and not old_upload.exists()
                        and not old_partial.exists(), 30)
        assert young_job.is_dir()  # maybe another worker's, and not old: kept
        assert (user_folder / "results" / "file.png").is_file()  # not a name we make: kept
    finally:
        client.stop()


CAPS = [
    ({"tile": 4096}, "tile"),
    ({"arch": {"width": 512}}, "arch.width"),
    ({"arch": {"blocks": 64}}, "arch.blocks"),
    ({"batch": 64, "size": 1024}, "'batch' x 'size'^2"),
]


@pytest.mark.parametrize(("settings", "needle"), CAPS)
def test_settings_over_a_cap_are_422_naming_it(worker: WorkerClient, inputs: Path,
                                               settings: dict, needle: str) -> None:
    with pytest.raises(WorkerError) as caught:
        worker.submit("restyle", styles=[inputs / "style.png"], images=[inputs / "content.png"],
                      settings=settings)
    assert caught.value.status == 422
    assert needle in str(caught.value) and "limit" in str(caught.value)


def test_too_many_pixels_in_one_job_is_422(worker: WorkerClient, inputs: Path,
                                           tiny_model: str) -> None:
    big = inputs / "big16k.png"  # a few hundred bytes claiming 16384 x 16384
    png_with_size(big, 16384, 16384)
    worker.submit("stylize", model=tiny_model, images=[big])  # one is fine (not run here)
    with pytest.raises(WorkerError) as caught:
        worker.submit("stylize", model=tiny_model, images=[big] * 5)
    assert caught.value.status == 422 and "pixels" in str(caught.value)
    assert "per job" in str(caught.value)


def test_a_job_over_the_memory_budget_is_422(tmp_path: Path, inputs: Path) -> None:
    served = serve(tmp_path, "--allow-root", str(inputs), "--max-job-memory-mb", "400")

    big = inputs / "big8k.png"  # a few hundred bytes claiming 8192 x 8192
    png_with_size(big, 8192, 8192)

    def train(settings: dict, content: Path = inputs / "content.png") -> tuple[int, dict]:
        body = {"kind": "train", "styles": [str(inputs / "style.png")],
                "content": [str(content)], "settings": settings}
        return served.request("POST", "/jobs", json.dumps(body).encode(), headers=JSON)

    try:
        status, reply = train({"size": 512, "batch": 4})  # under the caps, over the budget
        assert status == 422 and "--max-job-memory-mb" in reply["detail"]
        assert "MB" in reply["detail"]
        # Small steps, but training holds its 8192^2 content whole (about 1 GB).
        status, reply = train({"size": 32, "batch": 1, "steps": 1}, big)
        assert status == 422 and "--max-job-memory-mb" in reply["detail"]
        assert train({"size": 32, "batch": 1, "steps": 1})[0] == 201
    finally:
        served.stop()
