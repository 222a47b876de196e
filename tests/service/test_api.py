"""The worker's HTTP API end to end: a real worker subprocess over real HTTP on loopback."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from restyle.addon.worker.client import WorkerClient, WorkerError


def raw(worker: WorkerClient, method: str, path: str, data: bytes | None = None,
        token: str | None = "use", content_type: str = "application/json") -> tuple[int, dict]:
    """A request that bypasses the client, to see exact statuses and bodies."""
    url, real_token = worker.endpoint
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {real_token if token == 'use' else token}"
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_health_needs_no_token_and_openapi_does(worker: WorkerClient) -> None:
    assert raw(worker, "GET", "/health", token=None) == (200, {"status": "ok"})  # minimal
    assert raw(worker, "GET", "/health", token="wrong") == (200, {"status": "ok"})
    status, health = raw(worker, "GET", "/health")
    assert status == 200
    assert health["status"] == "ok" and health["device"] == "cpu" and health["torch"]
    assert isinstance(health["queue"], int) and health["version"]
    assert raw(worker, "GET", "/openapi.json", token=None)[0] == 401
    status, spec = raw(worker, "GET", "/openapi.json")
    assert status == 200 and "/jobs" in spec["paths"] and "/uploads" in spec["paths"]


def test_every_other_route_needs_the_token(worker: WorkerClient) -> None:
    for method, path in (("GET", "/jobs/x"), ("POST", "/jobs"), ("GET", "/styles"),
                         ("POST", "/uploads"), ("POST", "/jobs/x/cancel")):
        status, body = raw(worker, method, path, data=b"{}", token=None)
        assert status == 401, path
        assert "token" in body["detail"]
        assert raw(worker, method, path, data=b"{}", token="wrong")[0] == 401
    url, _token = worker.endpoint
    with pytest.raises(WorkerError, match="rejected the token") as caught:
        WorkerClient(url=url, token="wrong").job("x")
    assert caught.value.status == 401


def test_unreachable_remote_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(WorkerError, match="connection refused"):
        WorkerClient(url=f"http://127.0.0.1:{port}", token="t", timeout=2).health()


def test_train_then_stylize_end_to_end(worker: WorkerClient, tiny_model: str, inputs: Path,
                                       tmp_path: Path) -> None:
    content = inputs / "content.png"
    job_id = worker.submit("stylize", model=tiny_model,
                           images=[content, {"ref": str(content), "seamless": "on"}])
    state = worker.wait_job(job_id, timeout=120)
    assert state["state"] == "done", state["message"]
    assert state["progress"] == 1.0
    names = [result["name"] for result in state["results"]]
    assert len(set(names)) == 2
    for result in state["results"]:
        assert result["input"] == str(content)
        assert (result["width"], result["height"]) == (48, 48)
        with Image.open(result["path"]) as image:
            assert image.size == (48, 48)
        assert worker.fetch_result(state, result, tmp_path).is_file()
    worker.delete(job_id)
    assert not (Path(worker.jobs_dir) / job_id).exists()
    with pytest.raises(WorkerError) as caught:
        worker.job(job_id)
    assert caught.value.status == 404


def test_remote_style_upload_stylize_and_download(worker: WorkerClient, tiny_model: str,
                                                  inputs: Path, tmp_path: Path) -> None:
    url, token = worker.endpoint
    remote = WorkerClient(url=url, token=token)
    ref = remote.ref(inputs / "content.png")
    assert not os.path.isabs(ref)
    state = remote.wait_job(remote.submit("stylize", model=tiny_model, images=[ref]), 120)
    assert state["state"] == "done", state["message"]
    (result,) = state["results"]
    assert result["name"] == "content.png"
    local = remote.fetch_result(state, result, tmp_path / "out.png")
    assert local.read_bytes() == Path(result["path"]).read_bytes()


def test_restyle_progress_rises_and_reports_the_model(worker: WorkerClient, inputs: Path,
                                                      tiny_train: dict) -> None:
    settings = {**tiny_train, "steps": 40, "seed": 2}  # enough steps to watch on a fast CPU
    job_id = worker.submit("restyle", styles=[inputs / "style.png"],
                           images=[inputs / "content.png"], settings=settings)
    seen = []
    while (state := worker.job(job_id))["state"] not in ("done", "failed", "cancelled"):
        seen.append(state["progress"])
        time.sleep(0.02)
    assert state["state"] == "done", state["message"]
    seen.append(state["progress"])
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert len({p for p in seen if 0 < p < 1}) >= 3
    assert state["model"] and os.path.isdir(state["model"])
    assert len(state["results"]) == 1


def test_cancel_stops_a_running_job_and_leaves_nothing(worker: WorkerClient, inputs: Path,
                                                       tiny_train: dict) -> None:
    models = _models_in_cache(worker)
    settings = {**tiny_train, "steps": 100_000, "seed": 3}
    job_id = worker.submit("restyle", styles=[inputs / "style.png"],
                           images=[inputs / "content.png"], settings=settings)
    while (state := worker.job(job_id))["phase"] != "train" or state["progress"] == 0:
        assert state["state"] in ("queued", "running"), state
        time.sleep(0.05)
    assert worker.cancel(job_id)["state"] in ("running", "cancelled")
    state = worker.wait_job(job_id, timeout=15, interval=0.05)
    assert state["state"] == "cancelled"
    assert state["results"] == [] and state["model"] is None
    job_folder = Path(worker.jobs_dir) / job_id
    assert not (job_folder / "results").exists()
    assert _models_in_cache(worker) == models
    assert worker.health()["status"] == "ok"


def _models_in_cache(worker: WorkerClient) -> set[str]:
    folder = Path(worker.env["RESTYLE_CACHE"]) / "models"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_paths_outside_allowed_roots_are_403(worker: WorkerClient, inputs: Path,
                                             outside: Path, tiny_model: str) -> None:
    attempts = [
        outside / "secret.png",
        f"{inputs}/../{outside.name}/secret.png",
        inputs / "link.png",
        inputs / "linkdir" / "secret.png",
        "/etc/passwd",
    ]
    for path in attempts:
        with pytest.raises(WorkerError) as caught:
            worker.submit("stylize", model=tiny_model, images=[str(path)])
        assert caught.value.status == 403, path
        assert str(path) in str(caught.value)
    with pytest.raises(WorkerError) as caught:
        worker.submit("train", styles=[inputs / "style.png"], content=[outside / "secret.png"])
    assert caught.value.status == 403
    with pytest.raises(WorkerError) as caught:
        worker.submit("stylize", model=tiny_model, images=["relative/content.png"])
    assert caught.value.status == 422


def test_oversized_upload_is_413(worker: WorkerClient, tmp_path: Path) -> None:
    limit = worker.health()["max_upload_bytes"]  # the module's worker allows 0.05 MB
    status, reply = raw(worker, "POST", "/uploads", data=os.urandom(limit + 20_000),
                        content_type="application/octet-stream")
    assert status == 413 and "limit" in reply["detail"]
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(5 * 2**20))
    with pytest.raises(WorkerError, match=r"big\.bin.*limit") as caught:
        worker.upload(big)
    assert caught.value.status == 413
    small = tmp_path / "small.bin"
    small.write_bytes(os.urandom(limit))
    assert len(worker.upload(small)) == 32
    uploads = Path(worker.jobs_dir) / "uploads"
    assert [p.name for p in uploads.rglob("*.bin")] == ["small.bin"]
    assert worker.health()["status"] == "ok"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"kind": "paint"}', 422, "kind"),
        (b'{"kind": "stylize", "model": "x"}', 422, "images"),
        (b'{"kind": "stylize", "images": ["/x.png"], "model": "x", "colour": 1}', 422, "colour"),
    ],
)
def test_malformed_requests_are_4xx(worker: WorkerClient, body: bytes, status: int,
                                    needle: str) -> None:
    got, reply = raw(worker, "POST", "/jobs", data=body)
    assert got == status
    assert needle in reply["detail"]
    assert worker.health()["status"] == "ok"


def test_bad_inputs_are_4xx_naming_the_input(worker: WorkerClient, inputs: Path,
                                             tiny_model: str) -> None:
    content = str(inputs / "content.png")
    cases = [
        (dict(model="no_such_style", images=[content]), 422, "no_such_style"),
        (dict(model=tiny_model, images=[str(inputs / "corrupt.png")]), 422, "corrupt.png"),
        (dict(model=tiny_model, images=[str(inputs / "bomb.png")]), 422, "bomb.png"),
        (dict(model=tiny_model, images=[str(inputs / "missing.png")]), 422, "missing.png"),
        (dict(model=tiny_model, images=[content], settings={"strength": 3}), 422, "trength"),
        (dict(model=tiny_model, images=[content], settings={"stpes": 3}), 422, "stpes"),
        (dict(model=tiny_model, images=[content], settings={"steps": "many"}), 422, "steps"),
        (dict(model=tiny_model, images=[{"ref": content, "scale": 99}]), 422, "cale"),
        (dict(model=tiny_model, images=[content], settings={"device": "cuda"}), 422, "cuda"),
        (dict(model=tiny_model, images=[content], settings={"init_from": "nope"}), 422, "nope"),
        (dict(model=tiny_model, images=[content], settings={"arch": {"bogus": 1}}), 422, "bogus"),
    ]
    for body, status, needle in cases:
        with pytest.raises(WorkerError) as caught:
            worker.submit("stylize", **body)
        assert caught.value.status == status, body
        assert needle in str(caught.value), (needle, str(caught.value))
    with pytest.raises(WorkerError, match="too large"):
        worker.submit("stylize", model=tiny_model, images=[str(inputs / "bomb.png")])
    with pytest.raises(WorkerError) as caught:
        worker.job("0123456789abcdef")
    assert caught.value.status == 404 and "0123456789abcdef" in str(caught.value)
    assert worker.health()["status"] == "ok"


def test_corrupt_pixel_data_fails_the_job_not_the_worker(worker: WorkerClient, inputs: Path,
                                                         tiny_model: str) -> None:
    truncated = inputs / "truncated.png"
    whole = (inputs / "content.png").read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    job_id = worker.submit("stylize", model=tiny_model, images=[truncated])
    state = worker.wait_job(job_id, timeout=60)
    assert state["state"] == "failed"
    assert "truncated.png" in state["message"]
    assert state["results"] == []
    assert not (Path(worker.jobs_dir) / job_id / "results").exists()
    assert worker.health()["status"] == "ok"


def test_thirty_queued_jobs_finish_in_order(worker: WorkerClient, inputs: Path,
                                            tiny_model: str) -> None:
    ids = [worker.submit("stylize", model=tiny_model, images=[inputs / "content.png"],
                         settings={"strength": 0.5 + i / 100}) for i in range(30)]
    states = [worker.wait_job(job_id, timeout=300) for job_id in ids]
    assert [s["state"] for s in states] == ["done"] * 30
    starts = [s["started"] for s in states]
    ends = [s["finished"] for s in states]
    assert starts == sorted(starts) and ends == sorted(ends)
    assert all(end <= start for end, start in zip(ends, starts[1:], strict=False))


def test_stylize_can_name_a_train_job_as_its_model(worker: WorkerClient, inputs: Path,
                                                   tiny_train: dict) -> None:
    train_id = worker.submit("train", styles=[inputs / "style.png"],
                             content=[inputs / "content.png"], settings={**tiny_train, "seed": 4})
    stylize_id = worker.submit("stylize", model=train_id, images=[inputs / "content.png"])
    state = worker.wait_job(stylize_id, timeout=120)
    assert state["state"] == "done", state["message"]
    assert worker.job(train_id)["state"] == "done"


def test_restyle_with_a_given_model_skips_training(worker: WorkerClient, inputs: Path,
                                                   tiny_model: str) -> None:
    job_id = worker.submit("restyle", model=tiny_model, images=[inputs / "content.png"],
                           settings={"steps": 100_000})  # would take hours if it trained
    state = worker.wait_job(job_id, timeout=120)
    assert state["state"] == "done", state["message"]
    assert state["model"] == tiny_model
    assert [r["name"] for r in state["results"]] == ["content.png"]
