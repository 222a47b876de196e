"""One batch task on a node: a fresh Blender process for one scene (or the gather pass).

Standard library only, and pickled by value by the driver, so a Ray node needs no
Restyle checkout: the extension zip, the scene script and the model arrive as bytes
(Ray's object store fetches them once per node), are written into the task's own temp
folder (deleted afterwards, so nothing piles up on the node), and the Blender process
installs the zip into its own temporary ``BLENDER_USER_RESOURCES``.
The worker the add-on starts runs on this node's Python (the Ray worker's own venv);
on a node whose task was given a GPU it runs on cuda.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOG_TAIL_BYTES = 64_000


def put_file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def put_model(cache: Path, model: dict) -> Path:
    """The model folder in the worker's cache (its ``models`` dir), checked by hash.

    The worker accepts a model folder there from any client, and the hash check makes
    sure every scene on every node runs the batch's one model.
    """
    folder = cache / "models" / f"batch-{model['sha256'][:16]}"
    for name, data in model["files"].items():
        put_file(folder / name, data)
    weights = hashlib.sha256((folder / model["weights"]).read_bytes()).hexdigest()
    if weights != model["sha256"]:
        raise RuntimeError(f"The model copy in {folder} does not match the batch's model "
                           f"(sha256 {weights} != {model['sha256']})")
    return folder


def _device(requested: str) -> str:
    """cuda when Ray gave this task a GPU, else what was asked for."""
    try:
        import ray

        gpus = ray.get_gpu_ids() if ray.is_initialized() else []
    except ImportError:
        gpus = []
    return "cuda" if gpus and requested in ("auto", "cuda") else requested


def _tail(path: Path) -> str:
    if not path.is_file():
        return ""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
        return handle.read().decode("utf-8", "replace")


def run_blender(payload: dict, zip_bytes: bytes, model: dict | None) -> dict:
    """Run the scene script in a new Blender process; returns its result and log tail.

    ``payload``: ``args`` for the script (mode, scenes, settings), ``script`` (its text),
    ``zip_name``, ``device`` and ``blender`` (a binary, or None for this Python's bpy).
    ``returncode`` < 0 or no ``result`` means the process died (the driver retries once).
    """
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="restyle-batch-"))
    try:
        zip_path = put_file(work / payload["zip_name"], zip_bytes)
        script = put_file(work / "batch_script.py", payload["script"].encode("utf-8"))
        cache = work / "cache"
        args = dict(payload["args"], zip=str(zip_path), worker_python=sys.executable,
                    device=_device(payload["device"]), result=str(work / "result.json"),
                    model_dir=str(put_model(cache, model)) if model else "")
        if payload.get("blender"):
            command = [payload["blender"], "-b", "--factory-startup", "--python", str(script)]
        else:
            command = [sys.executable, str(script)]
        env = dict(os.environ, BLENDER_USER_RESOURCES=str(work / "user"),
                   RESTYLE_CACHE=str(cache))
        log = work / "blender.log"
        args["launched"] = time.time()  # the script's "blender_start" counts from here
        args_path = work / "args.json"
        args_path.write_text(json.dumps(args), encoding="utf-8")
        with log.open("wb") as out:
            code = subprocess.run([*command, "--", str(args_path)], stdout=out,
                                  stderr=subprocess.STDOUT, env=env, cwd=work,
                                  check=False).returncode
        result_path = work / "result.json"
        result = json.loads(result_path.read_text("utf-8")) if result_path.is_file() else None
        return {"returncode": code, "result": result, "log": _tail(log),
                "host": os.uname().nodename if hasattr(os, "uname") else "",
                "seconds": round(time.monotonic() - started, 3)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
