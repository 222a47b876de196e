"""Per-job overhead of the worker service: one stylize through the HTTP API vs in-process.

Both sides run the same ``stylize_file`` on the same image with the same model on
the CPU; the API side adds a job submission, the queue thread hand-off, result
publishing (temp folder + rename) and polling. The client polls every 5 ms here
so the table shows the service's cost, not a polling interval (the add-on polls
at ~4 Hz, which adds up to 250 ms of latency but no CPU).

Run: ``.venv/bin/python bench/service.py [--runs 15] [--sizes 64 256 1024]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # extension_package: the checkout as ``restyle``

import extension_package  # noqa: E402, F401

from restyle.addon.worker.client import WorkerClient, find_worker_python  # noqa: E402


def make_image(path: Path, size: int) -> Path:
    """A smooth colour image (content with edges is irrelevant to overhead)."""
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    rgb = np.stack([np.add.outer(ramp, ramp) / 2, np.tile(ramp, (size, 1)),
                    np.tile(ramp[:, None], (1, size))], axis=-1)
    Image.fromarray(rgb.astype(np.uint8)).save(path)
    return path


def pick_model(tmp: Path) -> str:
    """A shipped style if there is one, else a 3-step model trained now (speed is the same)."""
    from core.store import list_styles
    from core.training.trainer import TrainSettings, train_style

    shipped = [style for style in list_styles() if style["source"] == "shipped"]
    if shipped:
        return shipped[0]["path"]
    style = make_image(tmp / "style.png", 64)
    settings = TrainSettings(steps=3, size=32, batch=1, device="cpu")
    return str(train_style([style], [style], tmp / "model", settings))


def one_in_process(model, image: Path, out: Path) -> float:
    """Seconds for one ``stylize_file`` call in this process."""
    from core.inference.stylize import StylizeSettings, stylize_file

    start = time.perf_counter()
    stylize_file(model, image, out, StylizeSettings(device="cpu"))
    return time.perf_counter() - start


def one_via_api(client: WorkerClient, model_path: str, image: Path) -> tuple[float, float]:
    """Seconds from submit to seeing ``done`` (5 ms polling), and the job's own run time."""
    start = time.perf_counter()
    job_id = client.submit("stylize", model=model_path, images=[image],
                           settings={"device": "cpu"})
    state = client.wait_job(job_id, timeout=600, interval=0.005)
    elapsed = time.perf_counter() - start
    if state["state"] != "done":
        raise SystemExit(f"job failed: {state['message']}")
    return elapsed, state["finished"] - state["started"]


def measure(client: WorkerClient, model_path: str, image: Path, out: Path,
            runs: int) -> tuple[float, float, float]:
    """Medians (in-process, via API, job run time), runs interleaved so load hits both alike."""
    from core.store import load_model

    model = load_model(model_path, "cpu")
    one_in_process(model, image, out)  # warm-up: allocator, kernels, model load
    one_via_api(client, model_path, image)
    local, remote, run = [], [], []
    for _ in range(runs):
        local.append(one_in_process(model, image, out))
        total, job_run = one_via_api(client, model_path, image)
        remote.append(total)
        run.append(job_run)
    return statistics.median(local), statistics.median(remote), statistics.median(run)


def cancel_latency(client: WorkerClient, style: Path, runs: int = 3) -> float:
    """Median seconds from ``cancel()`` to the job reading ``cancelled`` (training, 5 ms polls)."""
    latencies = []
    for seed in range(runs):
        job_id = client.submit("train", styles=[style], content=[style], settings={
            "steps": 100_000, "size": 32, "batch": 1, "device": "cpu", "seed": 100 + seed})
        while client.job(job_id)["progress"] == 0:
            time.sleep(0.005)
        start = time.perf_counter()
        client.cancel(job_id)
        if client.wait_job(job_id, timeout=60, interval=0.005)["state"] != "cancelled":
            raise SystemExit("cancel did not cancel")
        latencies.append(time.perf_counter() - start)
    return statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    args = parser.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count() or 1)  # the worker uses torch's default too
    with tempfile.TemporaryDirectory(prefix="restyle-bench-service-") as folder:
        tmp = Path(folder)
        os.environ["RESTYLE_CACHE"] = str(tmp / "cache")
        model_path = pick_model(tmp)
        client = WorkerClient(find_worker_python() or sys.executable, jobs_dir=tmp / "jobs",
                              allow_roots=[tmp], device="cpu",
                              env={"RESTYLE_CACHE": str(tmp / "cache")})
        start = time.perf_counter()
        client.wait_ready(180)
        startup = time.perf_counter() - start
        rows = []
        try:
            for size in args.sizes:
                image = make_image(tmp / f"content{size}.png", size)
                rows.append((size, *measure(client, model_path, image, tmp / "out.png",
                                            args.runs)))
            cancel = cancel_latency(client, make_image(tmp / "style64.png", 64))
        finally:
            client.stop()
    print(f"model: {model_path}")
    print(f"worker start to ready: {startup:.2f} s (spawn, imports, bind)")
    print(f"cancel of a running training job to 'cancelled': {cancel * 1e3:.0f} ms (median of 3)")
    print(f"median of {args.runs} interleaved runs per row, CPU, {os.cpu_count()} cores; "
          "'service overhead' = API time minus the job's own run time in the worker\n")
    print("| image | in-process ms | via API ms | ratio API/in-process | job run ms "
          "| service overhead ms |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for size, local, remote, run in rows:
        print(f"| {size}x{size} | {local * 1e3:.1f} | {remote * 1e3:.1f} | "
              f"{remote / local:.2f} | {run * 1e3:.1f} | {(remote - run) * 1e3:.1f} |")


if __name__ == "__main__":
    main()
