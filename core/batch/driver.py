"""The batch driver: one model, one Ray task per scene, retries, resume and batch.json.

Before Ray starts, the driver builds the extension zip and settles the model (a bad
style name fails in a second, not after a cluster start); ``--style-image`` gathers the
textures of all scenes in one Blender process and trains once. Then every scene that is
not already done with the same inputs and settings becomes a task: the zip, the scene
script and the model go to the nodes through Ray's object store, a task whose Blender
process died is run once more, and each finished scene prints one line and updates
``DIR/batch.json``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..cli import ProgressBar
from ..errors import BadInput, UsageError
from ..protocol import DONE, FAILED
from . import task
from .extension import ROOT, build_extension
from .model import BatchModel, named_model, trained_model
from .settings import KILL_HOOK_ENV, BatchSettings
from .summary import (
    SUMMARY_FILE,
    previous_result,
    save_record,
    sha256_file,
    summary_line,
    write_json,
)

SCENE_SCRIPT = ROOT / "addon" / "batch_script.py"
#: Makes Ray's single-node mode bind every server to loopback (set before importing ray).
RAY_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
QUIET = {"logging_level": logging.ERROR, "log_to_driver": False}  # the summary stays readable
ATTEMPTS = 2  # a scene whose Blender process died runs once more
#: A local instance is one machine: a node that misses heartbeats or starts slowly is
#: only busy (a loaded 2-core box starves Ray's own processes), not lost; allow minutes.
LOCAL_SYSTEM_CONFIG = {"health_check_period_ms": 5000, "health_check_timeout_ms": 30000,
                       "health_check_failure_threshold": 60,
                       "gcs_rpc_server_reconnect_timeout_s": 600}


def local_ray_options(**extra) -> dict:
    """``ray.init`` keywords for a quiet, loopback-only local instance (set
    ``RAY_LOOPBACK_ENV`` before importing ray); the tests and the bench use it too."""
    os.environ.setdefault(RAY_LOOPBACK_ENV, "0")
    os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "300")  # slow starts, same box
    return {"include_dashboard": False, "_node_ip_address": "127.0.0.1",
            "_system_config": LOCAL_SYSTEM_CONFIG, **QUIET, **extra}


@dataclass
class Cluster:
    address: str
    nodes: int
    cpus: float  # in the whole cluster
    node_cpus: float  # on its largest node
    gpus: float
    version: str

    def cpus_per_scene(self, workers: int | None) -> int:
        """CPUs a scene's task asks for: 1, or the cluster's share when ``--workers`` caps it.

        Ray sets OMP_NUM_THREADS to a task's CPUs, which the Blender process and its
        worker inherit, so one scene at a time on a 2-core machine still uses both cores.
        """
        if not workers:
            return 1
        return max(1, int(min(self.node_cpus, self.cpus // workers)))


@contextlib.contextmanager
def ray_cluster(address: str) -> Iterator[Cluster]:
    """Connect to ``address``, or start a loopback-only local instance for this run.

    A Ray already initialised in this process (an embedding program, the tests) is used
    as it is and left running.
    """
    local = {} if address else local_ray_options()  # before importing ray
    try:
        import ray
    except ImportError:
        raise BadInput("Ray is not installed in this Python; install the pinned version "
                       "from requirements.txt (pip install -r requirements.txt).") from None
    owned = not ray.is_initialized()
    if owned:
        try:
            if address:
                ray.init(address=address, **QUIET)
            else:
                ray.init(**local)
        except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if address:
                raise UsageError(f"Cannot reach the Ray cluster at --address {address} "
                                 f"({reason}); start it with 'ray start --head' or leave "
                                 "--address empty for a local one.") from None
            raise BadInput(f"Could not start a local Ray instance ({reason}); see Ray's logs "
                           "in /tmp/ray/session_latest/logs.") from None
    try:
        context = ray.get_runtime_context()
        gcs = context.gcs_address if hasattr(context, "gcs_address") else address
        alive = [node for node in ray.nodes() if node.get("Alive")]
        resources = ray.cluster_resources()
        yield Cluster(address=gcs or address or "local", nodes=len(alive),
                      cpus=float(resources.get("CPU", 1)),
                      node_cpus=max(float(n["Resources"].get("CPU", 1)) for n in alive),
                      gpus=float(resources.get("GPU", 0)), version=ray.__version__)
    finally:
        if owned:
            ray.shutdown()


class Batch:
    """One run of ``python -m core batch``: prepared inputs, the queue and the results."""

    def __init__(self, settings: BatchSettings, build_dir: Path) -> None:
        self.settings = settings
        named = None if settings.style_images else named_model(settings.style or "")
        self.zip = build_extension(build_dir, blender=settings.blender)
        self.zip_bytes = self.zip.read_bytes()
        self.script = SCENE_SCRIPT.read_text(encoding="utf-8")
        self.kill = os.environ.get(KILL_HOOK_ENV, "")
        self.entries: dict[Path, dict] = {}
        self.cluster: Cluster | None = None  # set once Ray is up; batch.json names it
        self.started = time.monotonic()
        if settings.style_images:
            bar = ProgressBar("train")
            try:
                self.model: BatchModel = trained_model(settings, self.gather, progress=bar)
            finally:
                bar.close()
        else:
            self.model = named

    # ----------------------------------------------------------------- Blender payloads
    def payload(self, args: dict) -> dict:
        look = self.settings.look_properties()
        return {"args": {"look": look, **args}, "script": self.script,
                "zip_name": self.zip.name, "device": self.settings.device,
                "blender": self.settings.blender}

    def scene_payload(self, scene: Path, attempt: int) -> dict:
        outputs = {k: str(v) for k, v in self.settings.outputs(scene.stem).items()}
        spec = {"blend": str(scene), **outputs}
        args = {"mode": "scene", "scenes": [spec], "export": self.settings.export_properties()}
        if attempt == 1 and self.kill and Path(self.kill).resolve() == scene:
            args["kill"] = str(scene)
        return self.payload(args)

    def gather(self, scenes: list[Path], folder: Path) -> list[Path]:
        """Every scene's colour textures, exported by one local Blender process."""
        args = {"mode": "gather", "scenes": [{"blend": str(s)} for s in scenes],
                "gather_dir": str(folder)}
        out = task.run_blender(self.payload(args), self.zip_bytes, None)
        if not out["result"]:
            raise BadInput(f"Gathering the scenes' textures for training failed (Blender exit "
                           f"{out['returncode']}):\n{out['log'][-2000:]}")
        return [Path(p) for s in out["result"]["scenes"] if s["state"] == DONE
                for p in s["textures"]]

    # ----------------------------------------------------------------- results
    def entry(self, scene: Path, out: dict, attempts: int, seconds: float) -> dict:
        """batch.json's entry for one scene from what its (last) Blender process returned."""
        result = out.get("result") or {}
        outcome = (result.get("scenes") or [None])[0]
        entry = {"scene": str(scene), "state": FAILED, "output": None, "report": None,
                 "blend": None, "model": self.model.sha256, "seconds": round(seconds, 2),
                 "error": None, "attempts": attempts, "node": out.get("host", ""),
                 "log": str(self.settings.outputs(scene.stem)["log"]), "skipped": False}
        if outcome is None:
            entry["error"] = died_message(scene, out)
            return entry
        entry["timings"] = {**result.get("timings", {}), **outcome.get("timings", {})}
        for key in ("state", "output", "report", "blend", "error"):
            entry[key] = outcome.get(key, entry[key])
        return entry

    def finish(self, scene: Path, entry: dict, inputs: list[str], key: str) -> None:
        self.entries[scene] = entry
        if entry["state"] == DONE and not entry["skipped"]:
            save_record(self.settings, scene, key, entry, [str(scene), *inputs])
        self.write_summary()

    def write_summary(self) -> None:
        """Rewrite batch.json with every scene finished so far (in the input order)."""
        cluster = self.cluster
        order = [s for s in self.settings.scenes if s in self.entries]
        states = [self.entries[s]["state"] for s in order]
        data = {
            "engine": "ray", "address": cluster.address, "nodes": cluster.nodes,
            "ray_version": cluster.version,
            "style": self.settings.style or self.model.name,
            "style_images": [str(p) for p in self.settings.style_images],
            "model": self.model.sha256, "model_name": self.model.name,
            "settings": {"look": self.settings.look, "export": self.settings.export,
                         "device": self.settings.device, "workers": self.settings.workers},
            "total": len(self.settings.scenes), "done": states.count(DONE),
            "failed": states.count(FAILED),
            "seconds": round(time.monotonic() - self.started, 2),
            "scenes": [self.entries[s] for s in order],
        }
        write_json(self.settings.out / SUMMARY_FILE, data)


def died_message(scene: Path, out: dict) -> str:
    code = out.get("returncode")
    how = (f"was killed by signal {signal.Signals(-code).name}" if isinstance(code, int)
           and code < 0 else f"exited with code {code} before reporting")
    last = [line for line in (out.get("log") or "").splitlines() if line.strip()][-5:]
    return (f"The Blender process for {scene} {how}, on both attempts; see the log. "
            + " | ".join(last))


def write_log(settings: BatchSettings, scene: Path, attempt: int, out: dict) -> None:
    path = settings.outputs(scene.stem)["log"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w" if attempt == 1 else "a", encoding="utf-8") as handle:
        handle.write(f"===== attempt {attempt} on {out.get('host', '?')}: exit "
                     f"{out.get('returncode')} =====\n{out.get('log', '')}\n")


def run_batch(settings: BatchSettings) -> int:
    """Run the batch; 0 when every scene is done (or already was), 1 when any failed."""
    settings.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="restyle-batch-zip-") as build:
        batch = Batch(settings, Path(build))
    with ray_cluster(settings.address) as cluster:
        batch.cluster = cluster
        batch.write_summary()
        print(f"restyle batch: {len(settings.scenes)} scene(s), model {batch.model.name} "
              f"(sha256 {batch.model.sha256[:12]}), Ray {cluster.version} at "
              f"{cluster.address}, {cluster.nodes} node(s)", flush=True)
        schedule(batch, cluster)
    done = sum(e["state"] == DONE for e in batch.entries.values())
    failed = len(batch.entries) - done
    print(f"restyle batch: {done} done, {failed} failed in "
          f"{time.monotonic() - batch.started:.1f} s; summary {settings.out / SUMMARY_FILE}",
          flush=True)
    return 0 if failed == 0 else 1


def schedule(batch: Batch, cluster: Cluster) -> None:
    """Skip done scenes, run the rest as Ray tasks (at most ``--workers`` at once)."""
    import ray
    from ray import cloudpickle

    settings = batch.settings
    cloudpickle.register_pickle_by_value(task)  # nodes need no Restyle checkout
    use_gpu = cluster.gpus > 0 and settings.device in ("auto", "cuda")
    remote = ray.remote(task.run_blender).options(
        num_cpus=cluster.cpus_per_scene(settings.workers), num_gpus=1 if use_gpu else 0,
        max_retries=1)
    zip_ref, model_ref = ray.put(batch.zip_bytes), ray.put(batch.model.payload())
    total, shown = len(settings.scenes), 0
    bar = ProgressBar("batch")
    keys, queue = {}, deque()
    for scene in settings.scenes:
        keys[scene] = settings.key(sha256_file(scene), batch.model.sha256)
        earlier = previous_result(settings, scene, keys[scene])
        if earlier is None:
            queue.append((scene, 1, None))
            continue
        shown += 1
        batch.finish(scene, {**earlier, "skipped": True, "seconds": 0.0}, [], keys[scene])
        print(summary_line(shown, total, batch.entries[scene]), flush=True)
    limit = settings.workers or max(1, len(queue))
    pending: dict = {}
    bar(shown / total, "scenes", f"{shown}/{total}")
    while queue or pending:
        while queue and len(pending) < limit:
            scene, attempt, first = queue.popleft()
            first = first or time.monotonic()  # a scene's seconds include its retry
            ref = remote.remote(batch.scene_payload(scene, attempt), zip_ref, model_ref)
            pending[ref] = (scene, attempt, first)
        ready, _ = ray.wait(list(pending), num_returns=1)
        scene, attempt, first = pending.pop(ready[0])
        try:
            out = ray.get(ready[0])
        except ray.exceptions.RayError as exc:  # the task itself was lost (node, Ray worker)
            out = {"returncode": None, "result": None, "log": str(exc)}
        write_log(settings, scene, attempt, out)
        if not out.get("result") and attempt < ATTEMPTS:
            queue.appendleft((scene, attempt + 1, first))
            continue
        entry = batch.entry(scene, out, attempt, time.monotonic() - first)
        inputs = ((out.get("result") or {}).get("scenes") or [{}])[0].get("inputs", [])
        batch.finish(scene, entry, inputs, keys[scene])
        shown += 1
        bar.clear()
        print(summary_line(shown, total, entry), flush=True)
        bar(shown / total, "scenes", f"{shown}/{total}")
    bar.close()
    sys.stdout.flush()
