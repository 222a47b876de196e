"""``python -m core batch`` on a real local Ray instance (loopback, 2 CPUs, one per module).

Real everything: tiny .blend files made with bpy, one fresh Blender process per scene
with the extension installed from the zip, the add-on's own stylize and VR export, the
Khronos validator on every GLB. The inputs are read-only and must stay byte-identical.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
from pathlib import Path

import pytest
from batch_scenes import build_scene, make_read_only, make_writable, write_corrupt
from blender_scene import STYLE_PAINTING

from core.batch.driver import local_ray_options
from core.batch.settings import KILL_HOOK_ENV
from core.cli import main
from core.store import WEIGHTS_FILE, resolve_model_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from export_helpers import assert_valid, file_digests

TINY = ["--workers", "2"]  # the textures are 24 px; the training test caps --max-size too


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance for the module, bound to loopback only."""
    options = local_ray_options(num_cpus=2)
    import ray

    ray.init(**options)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def levels(bpy_module, tmp_path_factory):
    """Two good scenes (one and two textured planes) and a corrupt one, all read-only."""
    folder = tmp_path_factory.mktemp("levels")
    build_scene(bpy_module, folder / "alpha.blend", 0)
    build_scene(bpy_module, folder / "beta.blend", 1, planes=2)
    write_corrupt(folder / "broken.blend")
    digests = file_digests(folder)
    make_read_only(folder)
    yield folder, digests
    make_writable(folder)


def run_cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def first_run(ray_local, levels, tmp_path_factory):
    """The batch over the folder, with alpha's first Blender process killed (SIGKILL)."""
    folder, _ = levels
    out = tmp_path_factory.mktemp("batch_out")
    os.environ[KILL_HOOK_ENV] = str(folder / "alpha.blend")
    try:
        code, stdout = run_cli(["batch", str(folder), "--style", "starry_night",
                                "--out", str(out), *TINY])
    finally:
        del os.environ[KILL_HOOK_ENV]
    summary = json.loads((out / "batch.json").read_text())
    return code, stdout, summary, out


def by_name(summary: dict) -> dict[str, dict]:
    return {Path(e["scene"]).name: e for e in summary["scenes"]}


def test_every_good_scene_is_exported_and_valid(first_run, bpy_module):
    _code, _stdout, summary, out = first_run
    scenes = by_name(summary)
    assert summary["engine"] == "ray" and summary["nodes"] == 1
    assert summary["address"].startswith("127.0.0.1:")
    for name in ("alpha.blend", "beta.blend"):
        entry = scenes[name]
        assert entry["state"] == "done", entry["error"]
        assert entry["output"] == str(out / name.replace(".blend", ".glb"))
        assert_valid(Path(entry["output"]))
        assert json.loads(Path(entry["report"]).read_text())["textures"]
    bpy = bpy_module
    bpy.ops.wm.open_mainfile(filepath=str(out / "beta.blend"), load_ui=False)
    stylized = [img for img in bpy.data.images if img.name.endswith(".restyle")]
    assert len(stylized) == 2
    for image in stylized:
        path = Path(bpy.path.abspath(image.filepath))
        assert path.parent == out / "beta_textures" and path.is_file()
    bpy.ops.wm.read_homefile(use_empty=True)


def test_corrupt_scene_is_named_and_fails_the_batch(first_run):
    code, stdout, summary, _out = first_run
    assert code == 1
    broken = by_name(summary)["broken.blend"]
    assert broken["state"] == "failed" and broken["output"] is None
    assert "broken.blend" in broken["error"] and "not a readable .blend" in broken["error"]
    assert broken["attempts"] == 1  # a clean failure is not retried, only a death is
    failed_lines = [line for line in stdout.splitlines() if line.startswith("[")
                    and " failed " in line]
    assert len(failed_lines) == 1 and "broken.blend" in failed_lines[0]
    assert summary["done"] == 2 and summary["failed"] == 1


def test_killed_blender_process_is_retried(first_run):
    _code, _stdout, summary, _out = first_run
    alpha, beta = by_name(summary)["alpha.blend"], by_name(summary)["beta.blend"]
    assert alpha["attempts"] == 2 and alpha["state"] == "done"
    assert beta["attempts"] == 1
    log = Path(alpha["log"]).read_text()
    assert "attempt 1" in log and "exit -9" in log and "attempt 2" in log


def test_one_model_for_every_scene_and_inputs_untouched(first_run, levels):
    _code, stdout, summary, _out = first_run
    folder, digests = levels
    shipped = resolve_model_dir("starry_night") / WEIGHTS_FILE
    want = hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert summary["model"] == want
    assert {e["model"] for e in summary["scenes"]} == {want}
    assert file_digests(folder) == digests
    lines = stdout.strip().splitlines()  # header, one line per scene, footer: no Ray noise
    assert len(lines) == 5 and sum(line.startswith("[") for line in lines) == 3


def test_rerun_skips_the_done_scenes(first_run, levels):
    _code, _stdout, _summary, out = first_run
    folder, digests = levels
    code, stdout = run_cli(["batch", str(folder), "--style", "starry_night",
                            "--out", str(out), *TINY])
    scenes = by_name(json.loads((out / "batch.json").read_text()))
    assert code == 1
    assert scenes["alpha.blend"]["skipped"] and scenes["beta.blend"]["skipped"]
    assert scenes["broken.blend"]["state"] == "failed"
    assert stdout.count(" skipped ") == 2
    assert file_digests(folder) == digests


def test_style_images_train_one_model_for_all_scenes(ray_local, levels, tmp_path):
    folder, digests = levels
    out = tmp_path / "trained"
    code, stdout = run_cli(["batch", str(folder / "alpha.blend"), str(folder / "beta.blend"),
                            "--style-image", str(STYLE_PAINTING), "--steps", "2",
                            "--size", "32", "--max-size", "32", "--out", str(out), *TINY])
    summary = json.loads((out / "batch.json").read_text())
    assert code == 0, stdout
    model = Path(resolve_model_dir(summary["model_name"])) / WEIGHTS_FILE
    assert summary["model"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert {e["model"] for e in summary["scenes"]} == {summary["model"]}
    assert summary["model_name"] != "starry_night"
    for entry in summary["scenes"]:
        assert_valid(Path(entry["output"]))
    assert file_digests(folder) == digests
