"""The client's process handling: a killed worker is reported and replaced, orphans exit."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from extension_package import heavy_imports
from served import START_S, wait_until

from core.protocol import EXTENSION_ROOT, READY_PREFIX
from restyle.addon.worker.client import WorkerClient, WorkerDied, WorkerError, find_worker_python

PYTHON = find_worker_python() or sys.executable
TESTS = Path(__file__).resolve().parents[1]  # holds extension_package.py


def running(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def test_killed_worker_is_reported_then_replaced(make_client, inputs: Path,
                                                 tiny_train: dict) -> None:
    client = make_client()
    client.wait_ready(START_S)
    long_job = client.submit("train", styles=[inputs / "style.png"],
                             content=[inputs / "content.png"],
                             settings={**tiny_train, "steps": 100_000})
    assert wait_until(lambda: client.job(long_job)["state"] == "running", 60)
    old_pid = client.pid
    os.kill(old_pid, signal.SIGKILL)
    died = None
    for _ in range(40):  # the add-on polls like this from a timer; 40 x 50 ms = 2 s
        try:
            client.job(long_job)
        except WorkerDied as error:
            died = error
            break
        time.sleep(0.05)
    assert died is not None, "a SIGKILLed worker was not reported within 2 s"
    assert died.exit_code == -signal.SIGKILL
    assert "killed by signal 9" in str(died)
    assert f"job {long_job} train started" in died.log_tail  # what it was doing
    assert not client.ready

    fresh_job = client.submit("train", styles=[inputs / "style.png"],
                              content=[inputs / "content.png"], settings=tiny_train)
    assert client.pid != old_pid
    assert client.wait_job(fresh_job, timeout=120)["state"] == "done"
    new_pid = client.pid
    client.stop()
    assert not running(new_pid)


def test_worker_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    """The 'Blender' here is a Python process that starts a worker, then gets SIGKILLed."""
    blender = subprocess.Popen(
        [PYTHON, "-c",
         "import sys, time\n"
         f"sys.path.insert(0, {str(TESTS)!r})\n"
         "import extension_package\n"
         "from restyle.addon.worker.client import WorkerClient\n"
         f"client = WorkerClient({PYTHON!r}, jobs_dir={str(tmp_path / 'jobs')!r}, device='cpu')\n"
         "client.wait_ready(120)\n"
         "print(client.pid, flush=True)\n"
         "time.sleep(600)\n"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        worker_pid = int(blender.stdout.readline())
        assert running(worker_pid)
        blender.kill()
        blender.wait()
        assert wait_until(lambda: not running(worker_pid), 20), "orphaned worker kept running"
    finally:
        blender.kill()
        if running(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)
    log = (tmp_path / "jobs" / "worker.log").read_text()
    assert "is gone; exiting" in log


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--host", "0.0.0.0"], "--token"),
        (["--allow-root", "/no/such/folder"], "/no/such/folder"),
        (["--port", "70000"], "--port"),
    ],
)
def test_serve_refuses_unsafe_or_bad_options(args: list[str], needle: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(EXTENSION_ROOT)}
    env.pop("RESTYLE_TOKEN", None)
    done = subprocess.run([PYTHON, "-m", "core", "serve", *args], capture_output=True,
                          text=True, env=env, cwd=EXTENSION_ROOT, timeout=60)
    assert done.returncode == 2
    assert needle in done.stderr
    assert "RESTYLE_READY" not in done.stdout


def _lan_address() -> str | None:
    """This machine's non-loopback IPv4 address, if it has one (no packet is sent)."""
    for target in ("10.255.255.255", "203.0.113.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((target, 9))
            except OSError:
                continue
            address = probe.getsockname()[0]
        if not address.startswith("127.") and address != "0.0.0.0":
            return address
    return None


def test_non_loopback_clients_must_upload(tmp_path: Path, inputs: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker on a LAN address (with a token) refuses paths from a client reaching it there."""
    address = _lan_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    monkeypatch.setenv("no_proxy", "*")
    env = {**os.environ, "PYTHONPATH": str(EXTENSION_ROOT),
           "RESTYLE_CACHE": str(tmp_path / "cache"), "RESTYLE_TOKEN": "s3cret"}
    server = subprocess.Popen(
        [PYTHON, "-m", "core", "serve", "--host", address, "--jobs-dir", str(tmp_path / "jobs"),
         "--allow-root", str(inputs), "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        cwd=EXTENSION_ROOT,
    )
    try:
        ready = server.stdout.readline()
        assert ready.startswith(READY_PREFIX), ready
        port = json.loads(ready[len(READY_PREFIX):])["port"]
        remote = WorkerClient(url=f"http://{address}:{port}", token="s3cret")
        with pytest.raises(WorkerError) as caught:
            remote.submit("stylize", model="x", images=[str(inputs / "content.png")])
        assert caught.value.status == 403 and "upload" in str(caught.value)
        upload = remote.ref(inputs / "content.png")
        with pytest.raises(WorkerError, match="Unknown model 'x'"):
            remote.submit("stylize", model="x", images=[upload])
    finally:
        server.terminate()
        server.wait(30)


def test_old_jobs_and_uploads_are_deleted(make_client, inputs: Path) -> None:
    client = make_client(extra_args=["--keep-hours", str(5 / 3600)])  # keep 5 s
    upload = client.upload(inputs / "content.png")
    job_id = client.submit("train", styles=[upload], content=[upload],
                           settings={"steps": 100_000, "size": 32, "batch": 1})
    state = client.cancel(job_id)
    assert state["state"] in ("running", "cancelled"), state.get("message")
    uploaded = Path(client.jobs_dir) / "uploads" / upload
    assert uploaded.is_dir()

    def forgotten() -> bool:
        try:
            client.job(job_id)
        except WorkerError as error:
            return error.status == 404
        return False

    try:
        assert wait_until(lambda: not uploaded.exists(), 30)
        assert wait_until(forgotten, 30)
        assert client.health()["status"] == "ok"
    finally:
        client.stop()


def test_client_needs_only_the_standard_library() -> None:
    """Blender's Python has no third-party packages: -S hides site-packages entirely."""
    assert heavy_imports("import restyle.addon.worker.client as c; "
                         "c.WorkerClient(url='http://127.0.0.1:9')") == []


def test_find_worker_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESTYLE_PYTHON", raising=False)
    venv_python = tmp_path / "project" / ".venv" / "bin" / "python"
    if os.name == "nt":
        venv_python = tmp_path / "project" / ".venv" / "Scripts" / "python.exe"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text("")
    nested = tmp_path / "project" / "build" / "restyle"
    nested.mkdir(parents=True)
    assert find_worker_python(nested) == str(venv_python)
    assert find_worker_python(tmp_path / "elsewhere") in (None, *_real_venvs(tmp_path))
    monkeypatch.setenv("RESTYLE_PYTHON", sys.executable)
    assert find_worker_python(nested) == sys.executable


def _real_venvs(start: Path) -> list[str]:
    """A .venv above the temp folder would legitimately be found; allow for it."""
    return [str(p / ".venv/bin/python") for p in start.parents if (p / ".venv/bin/python").exists()]
