"""Fixtures for the worker tests: tiny input images, and one real worker per module.

Each module shares one worker subprocess (importing torch costs seconds) that
reads inputs from one allowed folder and keeps its cache in a temp folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from served import JOB_S, START_S, png_with_size

from restyle.addon.worker.client import WorkerClient, find_worker_python

#: Training small enough for a test: a few steps on 32 px crops.
TINY_TRAIN = {"steps": 3, "size": 32, "batch": 1, "seed": 1, "device": "cpu"}
UPLOAD_LIMIT_MB = 0.05


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The allowed folder: content/style images, a corrupt one, a bomb, a symlink out."""
    root = tmp_path_factory.mktemp("allowed")
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 48, dtype=np.float32)
    content = np.stack([np.add.outer(ramp, ramp) / 2, np.tile(ramp, (48, 1)),
                        np.tile(ramp[:, None], (1, 48))], axis=-1)
    Image.fromarray(content.astype(np.uint8)).save(root / "content.png")
    Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(root / "style.png")
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 20)
    png_with_size(root / "bomb.png", 100_000, 100_000)
    outside = tmp_path_factory.mktemp("outside")
    Image.fromarray(content.astype(np.uint8)).save(outside / "secret.png")
    (root / "link.png").symlink_to(outside / "secret.png")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    return root


@pytest.fixture(scope="session")
def outside(inputs: Path) -> Path:
    """A folder the worker was not allowed to read (holds secret.png)."""
    return (inputs / "link.png").resolve().parent


@pytest.fixture(scope="session")
def make_client(tmp_path_factory: pytest.TempPathFactory, inputs: Path):
    """Factory of local clients, each on a private jobs dir and cache, CPU, tiny upload limit."""

    def make(extra_args: tuple[str, ...] = ()) -> WorkerClient:
        tmp = tmp_path_factory.mktemp("worker")
        return WorkerClient(
            find_worker_python() or sys.executable,
            jobs_dir=tmp / "jobs",
            allow_roots=[inputs],
            device="cpu",
            env={"RESTYLE_CACHE": str(tmp / "cache")},
            extra_args=["--max-upload-mb", str(UPLOAD_LIMIT_MB), *extra_args],
        )

    return make


@pytest.fixture(scope="module")
def worker(make_client):
    """One running local worker for the module (stopped at the end)."""
    client = make_client()
    client.wait_ready(START_S)
    yield client
    client.stop()


@pytest.fixture(scope="session")
def tiny_train() -> dict:
    """Training settings small enough for a test (copy before changing)."""
    return dict(TINY_TRAIN)


@pytest.fixture(scope="module")
def tiny_model(worker: WorkerClient, inputs: Path) -> str:
    """A model folder trained by a real train job on the module's worker."""
    job_id = worker.submit(
        "train", styles=[inputs / "style.png"], content=[inputs / "content.png"],
        settings=TINY_TRAIN,
    )
    state = worker.wait_job(job_id, timeout=JOB_S)
    assert state["state"] == "done", state["message"]
    assert os.path.isdir(state["model"])
    return state["model"]
