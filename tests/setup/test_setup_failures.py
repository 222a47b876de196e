"""Set-ups that must not succeed say why and leave nothing that passes for a ready worker."""

from __future__ import annotations

import json

import pytest
from setup_driver_runner import run_driver

from restyle.addon.setup import installer, pip_log, torch_builds


def _not_ready(state: dict) -> None:
    assert state["stamp"] is None and state["resolved_python"] == "", state


def test_offline_blender_refuses_and_offers_the_wheel_folder(extension_zip, tmp_path):
    seen = run_driver("offline", extension_zip, tmp_path)
    setup = seen["setup"]
    assert setup["result"] == ["ERROR"]
    assert "offline" in setup["error"] and "Allow Online Access" in setup["error"]
    assert "Wheel Folder" in setup["error"] and "download_wheels.py" in setup["error"]
    assert not seen["after"]["env_exists"]
    _not_ready(seen["after"])


def test_bad_wheel_folder_fails_with_the_log_and_what_to_do(extension_zip, tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"not a zip")
    seen = run_driver("bad_wheels", extension_zip, tmp_path, "--wheels", str(wheels))
    setup, after = seen["setup"], seen["after"]
    assert setup["result"] == ["ERROR"] and setup["job_state"] == "FAILED"
    assert "Installing packages failed" in setup["error"]
    assert f"Log: {after['log_path']}" in setup["error"]
    assert "download_wheels.py" in setup["error"], setup["error"]
    assert "--no-index" in seen["log"] and "=== FAILED" in seen["log"]
    _not_ready(after)


def test_cancel_mid_install_leaves_no_environment(extension_zip, tmp_path):
    seen = run_driver("cancel", extension_zip, tmp_path)
    setup, after = seen["setup"], seen["after"]
    assert setup["result"] == ["CANCELLED"] and setup["job_state"] == "CANCELLED", setup
    assert "pip" in seen["log"] and "=== CANCELLED" in seen["log"]
    assert not after["env_exists"], after
    _not_ready(after)


@pytest.mark.parametrize(("text", "wheel_dir", "expected"), [
    ("ERROR: No matching distribution found for torch==2.13.0", "/w", "wheel folder /w has no"),
    ("ERROR: No matching distribution found for torch==2.13.0", None, "pip found no torch"),
    ("OSError: [Errno 28] No space left on device", None, "free about 2 GB"),
    ("Failed to establish a new connection: [Errno -3] Temporary failure", None, "internet"),
    ("ProxyError('Cannot connect to proxy.')", None, "proxy"),
    ("zipfile.BadZipFile: File is not a zip file", "/w", "damaged"),
    ("ERROR: something else\n", None, "ERROR: something else"),
])
def test_pip_failures_are_explained(text, wheel_dir, expected):
    assert expected in pip_log.explain(text, wheel_dir, "/env", "2 GB", "3.11", "linux")


def test_pip_progress_moves_forward_through_its_output():
    progress = pip_log.PipProgress()
    seen = []
    for line in ["Collecting pillow==13.0.0 (from -r req.txt (line 3))",
                 "Processing /wheels/torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl",
                 "  Downloading numpy-1.26.4-cp311-cp311-linux_x86_64.whl (18.3 MB)",
                 "Installing collected packages: numpy, pillow, torch"]:
        assert progress.feed(line)
        seen.append((progress.fraction, progress.message))
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)
    assert seen[1][1] == "Getting torch 2.13.0+cpu"
    assert seen[2][1] == "Downloading numpy 1.26.4 (18.3 MB)"
    assert seen[3] == (pip_log.RESOLVE_SHARE, "Installing 3 packages (torch takes a minute)")
    assert not progress.feed("  Attempting uninstall: setuptools")


def test_linux_cpu_needs_pytorch_index_only_when_pip_offers_the_cuda_build():
    def report(version: str) -> str:
        return json.dumps({"install": [{"metadata": {"name": "torch", "version": version}}]})

    assert torch_builds.offers_build(report("2.13.0+cpu"), "CPU", "linux")
    assert not torch_builds.offers_build(report("2.13.0"), "CPU", "linux")
    assert torch_builds.offers_build("", "CPU", "win32")
    assert torch_builds.index_args("CPU", False) == [
        "--extra-index-url", "https://download.pytorch.org/whl/cpu"]
    with pytest.raises(ValueError, match="no AMD GPU"):
        torch_builds.check_build("ROCM", "darwin")


def test_a_bug_in_the_set_up_still_ends_it_and_surfaces(tmp_path, monkeypatch):
    """A failed step is reported; a programming error ends the set-up too (the UI waits
    for that), with its traceback in the log, and is raised again."""
    job = installer.SetupJob(installer.SetupPlan(env_dir=tmp_path / "env",
                                                 log_path=tmp_path / "setup.log"))

    def bug() -> None:
        raise TypeError("a bug in Restyle")

    monkeypatch.setattr(job, "_steps", lambda: [installer._Step("Checking", 0.0, 1.0, bug)])
    with pytest.raises(TypeError, match="a bug in Restyle"):
        job._main()
    assert job.state == installer.FAILED and "Checking failed" in job.message
    log = (tmp_path / "setup.log").read_text()
    assert "Traceback" in log and "=== FAILED" in log

    def full() -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(job, "_steps", lambda: [installer._Step("Checking", 0.0, 1.0, full)])
    job._main()  # a file problem is reported, not raised
    assert job.state == installer.FAILED and "No space left" in job.message
