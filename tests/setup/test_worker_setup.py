"""The artist's path in real Blender: install the zip, Set Up Local Worker, stylize, revert.

One real set-up (a venv with torch, installed by pip from the registry this machine
reaches) is shared by the module: it runs in a fresh Blender process with an empty user
folder, Worker Python empty and no RESTYLE_PYTHON, as on an artist's machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from setup_driver_runner import run_driver


@pytest.fixture(scope="module")
def full_setup(extension_zip, tmp_path_factory) -> dict:
    return run_driver("full", extension_zip, tmp_path_factory.mktemp("full_setup"))


def test_setup_runs_to_completion_and_reports_ready(full_setup):
    before, setup, after = full_setup["before"], full_setup["setup"], full_setup["after"]
    assert before["resolved_python"] == "" and not before["env_exists"]
    assert setup["result"] == ["FINISHED"], (setup, full_setup["log"][-3000:])
    assert after["status"].startswith("Worker ready: torch 2.13.0, cpu"), after
    assert after["stamp"]["torch"].startswith("2.13.0")
    assert "=== DONE" in full_setup["log"] and "/health:" in full_setup["log"]


def test_worker_is_found_in_the_extension_user_folder(full_setup):
    after = full_setup["after"]
    env_dir = Path(after["env_dir"])
    assert after["worker_python_pref"] == ""
    assert Path(after["resolved_python"]).is_relative_to(env_dir)
    assert env_dir.parts[-5:] == ("extensions", ".user", "user_default", "restyle", "worker")
    assert "include-system-site-packages = false" in after["pyvenv_cfg"]


def test_stylize_scene_then_revert_with_the_set_up_worker(full_setup):
    run = full_setup["stylize"]
    assert run["result"] == ["FINISHED"], run["report"]
    changed = {k: v for k, v in run["stylized"].items() if v != run["before"][k]}
    assert changed and all(v.endswith(".restyle") for v in changed.values()), run
    assert run["reverted"] == run["before"]


def test_repair_then_remove(full_setup):
    assert full_setup["repair"]["result"] == ["FINISHED"], full_setup["repair"]
    assert full_setup["after_repair"]["stamp"] is not None
    assert full_setup["remove"]["result"] == ["FINISHED"], full_setup["remove"]
    gone = full_setup["after_remove"]
    assert not gone["env_exists"] and gone["resolved_python"] == ""
