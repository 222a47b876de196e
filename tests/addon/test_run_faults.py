"""Faults around a run in real Blender with a real worker: names, disks, hung workers, races.

Each test reproduces one fault found by probing the add-on and checks the run reports it
clearly and leaves the scene (and the user's files) as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from blender_scene import use_tiny_training
from test_stylize_scene import _fresh_training, _scene_state


@pytest.fixture
def stylized_scene(test_scene, bpy_module):
    use_tiny_training(bpy_module)
    return test_scene


def _stylize_finishes(bpy) -> None:
    assert bpy.ops.restyle.stylize_scene() == {"FINISHED"}, bpy.context.scene.restyle.last_report


def _pixels(image) -> np.ndarray:
    values = np.empty(image.size[0] * image.size[1] * 4, np.float32)
    image.pixels.foreach_get(values)
    return values


def _textured_plane(bpy, name: str, image_name: str, colour, x: float, folder: Path):
    """A plane whose material shows a solid-colour PNG loaded as datablock ``image_name``."""
    path = folder / f"{x:.0f}.png"
    img = bpy.data.images.new("tmp", 16, 16)
    img.pixels.foreach_set(np.tile(np.array([*colour, 1.0], np.float32), 16 * 16))
    img.filepath_raw, img.file_format = str(path), "PNG"
    img.save()
    bpy.data.images.remove(img)
    image = bpy.data.images.load(str(path))
    image.name = image_name
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True
    nodes = mat.node_tree.nodes
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = image
    mat.node_tree.links.new(tex.outputs["Color"], nodes["Principled BSDF"].inputs["Base Color"])
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([(-1, -1, 0), (1, -1, 0), (1, 1, 0), (-1, 1, 0)], [], [(0, 1, 2, 3)])
    mesh.uv_layers.new(name="UVMap")
    mesh.materials.append(mat)
    obj = bpy.data.objects.new(name, mesh)
    obj.location.x = x
    bpy.context.scene.collection.objects.link(obj)


def _shown(bpy, material: str):
    return next(n for n in bpy.data.materials[material].node_tree.nodes
                if n.type == "TEX_IMAGE").image


COLLIDING = {"Brick": ("кирпич.png", (0.8, 0.1, 0.1)), "Tree": ("дерево.png", (0.1, 0.1, 0.8)),
             "WoodSpace": ("Wood 01.png", (0.1, 0.8, 0.1)),
             "WoodUnderscore": ("Wood_01.png", (0.9, 0.9, 0.1))}


def test_images_whose_names_look_alike_keep_their_own_files(clean_scene, bpy_module,
                                                             restyle_addon, tmp_path):
    bpy = bpy_module
    use_tiny_training(bpy)
    bpy.context.scene.restyle.strength = 0.5  # keep the inputs' colours apart
    for x, (material, (image_name, colour)) in enumerate(COLLIDING.items()):
        _textured_plane(bpy, material, image_name, colour, float(x) * 3, tmp_path)
    blend = tmp_path / "names.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    _stylize_finishes(bpy)
    files = sorted(p.name for p in (tmp_path / "restyle").iterdir())
    assert len(files) == len(COLLIDING), files
    assert "кирпич.png.restyle.png" in files  # readable: Unicode letters are kept
    shown = {m: _pixels(_shown(bpy, m)) for m in COLLIDING}
    bpy.ops.wm.save_mainfile()
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    for material, (image_name, _colour) in COLLIDING.items():
        image = _shown(bpy, material)
        assert image.name == image_name + ".restyle"
        after = _pixels(image)
        assert np.abs(after - shown[material]).max() < 0.02, material
        for other in COLLIDING.keys() - {material}:
            assert np.abs(after - shown[other]).max() > 0.1, (material, other)


def test_one_naming_rule_for_stylized_and_exported_files(clean_scene, bpy_module, restyle_addon,
                                                        tmp_path):
    bpy = bpy_module
    names = restyle_addon.addon.names
    budget = restyle_addon.addon.export.budget
    tricky = ["a/b.png", "a:b.png", "Wood.png", "wood.png", "кирпич.png", "дерево.png", "CON"]
    taken: set[str] = set()
    stems = [names.file_stem(n, taken, ".png") for n in tricky]
    assert len({s.casefold() for s in stems}) == len(tricky), stems
    assert stems[4] == "кирпич.png" and not any(c in s for s in stems for c in '/:*?"<>|')
    for i in (0, 1, 2, 4, 5, 6):  # stable: a name's file does not depend on the others
        assert stems[i] == names.file_stem(tricky[i], set(), ".png")
    for x, name in enumerate(tricky):
        _textured_plane(bpy, f"M{x}", name, (0.1 * x, 0.5, 0.5), float(x) * 3, tmp_path)
    warnings: list[str] = []
    with budget.budget_textures(list(bpy.data.materials), budget.Budget(image_format="PNG"),
                                tmp_path / "work", warnings) as copies:
        exported = [c.stem for c in copies]
    assert len({s.casefold() for s in exported}) == len(tricky), exported
    assert "кирпич.png" in exported


def _discovery_order(bpy, restyle_addon) -> list[str]:
    materials = restyle_addon.addon.shading.node_materials(bpy.context.scene.objects)
    uses = restyle_addon.addon.discovery.discover(materials).textures
    return [use.image.name for use in uses]


def test_write_back_switches_nothing_when_one_file_cannot_be_written(stylized_scene, bpy_module,
                                                                      restyle_addon, tmp_path):
    bpy = bpy_module
    names = restyle_addon.addon.names
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))
    last = _discovery_order(bpy, restyle_addon)[-1]
    out = tmp_path / "restyle"
    for ext in (".png", ".jpg"):  # a folder where the last output file goes
        suffix = ".restyle" + ext
        (out / (names.file_stem(last, set(), suffix) + suffix)).mkdir(parents=True)
    before = _scene_state(bpy)
    with pytest.raises(RuntimeError, match="not a file"):
        bpy.ops.restyle.stylize_scene()
    assert _scene_state(bpy) == before  # no material switched, no orphan datablock
    assert all(p.is_dir() for p in out.iterdir()), sorted(out.iterdir())  # no file left


@contextlib.contextmanager
def _unwritable(folder: Path):
    """``folder`` as a full disk (a tiny tmpfs, when we may mount) or read-only."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        try:
            with (folder / "filler").open("wb") as filler:
                while True:
                    filler.write(b"\0" * 4096)
                    filler.flush()
        except OSError as exc:  # full, as wanted
            assert exc.errno == errno.ENOSPC, exc
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_full_temp_disk_fails_the_run_naming_the_cause(stylized_scene, bpy_module,
                                                       restyle_addon):
    bpy = bpy_module
    runner = restyle_addon.addon.runner
    before = _scene_state(bpy)
    run = runner.start_run(bpy.context, list(bpy.context.scene.objects), "test")
    with _unwritable(run.job_dir / "textures"):
        assert runner.run_to_end(run) == runner.FAILED
    report = bpy.context.scene.restyle.last_report
    assert report.startswith("Failed") and "Could not write" in report, report
    assert "temp folder" in report and "No colour textures" not in report
    assert _scene_state(bpy) == before


def test_a_bug_in_a_run_is_a_traceback_and_the_run_still_ends(stylized_scene, bpy_module,
                                                               restyle_addon, monkeypatch):
    bpy = bpy_module
    runner = restyle_addon.addon.runner
    before = _scene_state(bpy)
    run = runner.start_run(bpy.context, list(bpy.context.scene.objects), "test")

    def bug() -> None:
        raise TypeError("a bug in Restyle")

    monkeypatch.setattr(run, "_advance", bug)
    with pytest.raises(TypeError, match="a bug in Restyle"):
        run.step()
    assert run.state == runner.FAILED and runner.ACTIVE == {}  # not left busy
    assert not run.job_dir.exists()
    assert "TypeError" in bpy.context.scene.restyle.last_report
    assert _scene_state(bpy) == before


def _wait_running(runner, run, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while run.job.get("state") != "running":
        assert run.step() == runner.RUNNING, run.report()
        assert time.monotonic() < deadline, "the job never started running"
        time.sleep(0.05)


def _timed_steps(runner, run, limit: float) -> tuple[str, float]:
    """Step until the run ends (at most ``limit`` s); returns its state and the longest step."""
    longest, deadline = 0.0, time.monotonic() + limit
    while True:
        start = time.monotonic()
        state = run.step()
        longest = max(longest, time.monotonic() - start)
        if state != runner.RUNNING or time.monotonic() > deadline:
            return state, longest
        time.sleep(0.05)


def test_cancel_works_while_the_worker_is_stopped(stylized_scene, bpy_module, restyle_addon):
    bpy = bpy_module
    runner, session = restyle_addon.addon.runner, restyle_addon.addon.session
    _fresh_training(bpy)
    before = _scene_state(bpy)
    run = runner.start_run(bpy.context, list(bpy.context.scene.objects), "test")
    _wait_running(runner, run)
    client = session.current_client()
    os.kill(client.pid, signal.SIGSTOP)
    try:
        run.step()  # a request is now waiting on the stopped worker
        run.request_cancel()
        state, longest = _timed_steps(runner, run, 30)
    finally:
        os.kill(client.pid, signal.SIGCONT)
        with contextlib.suppress(Exception):
            client.cancel(run.job_id)
    assert state == runner.CANCELLED
    assert longest < 2.0, f"a step blocked for {longest:.1f} s"  # 10 s before the fix
    assert _scene_state(bpy) == before


def test_hung_worker_is_reported_killed_and_replaced(stylized_scene, bpy_module, restyle_addon):
    bpy = bpy_module
    runner, session = restyle_addon.addon.runner, restyle_addon.addon.session
    _fresh_training(bpy)
    before = _scene_state(bpy)
    run = runner.start_run(bpy.context, list(bpy.context.scene.objects), "test")
    run.no_answer_s = 3.0
    _wait_running(runner, run)
    pid = session.current_client().pid
    os.kill(pid, signal.SIGSTOP)
    try:
        state, longest = _timed_steps(runner, run, 60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    report = bpy.context.scene.restyle.last_report
    assert state == runner.FAILED, report
    assert longest < 2.0, f"a step blocked for {longest:.1f} s"  # 10 s per call before the fix
    assert "did not answer for" in report and "next run starts a new one" in report, report
    assert _scene_state(bpy) == before
    assert session.current_client() is None

    bpy.context.scene.restyle.steps_override = 3
    _stylize_finishes(bpy)
    assert session.current_client().pid != pid


def test_deleted_session_folder_gets_a_new_folder_and_worker(stylized_scene, bpy_module,
                                                             restyle_addon):
    bpy = bpy_module
    session = restyle_addon.addon.session
    _stylize_finishes(bpy)
    old_pid = session.current_client().pid
    shutil.rmtree(session.session_root(), ignore_errors=True)  # the worker may be deleting too
    assert bpy.ops.restyle.revert() == {"FINISHED"}
    _stylize_finishes(bpy)
    assert session.current_client().pid != old_pid


def test_second_stylize_and_revert_are_refused_while_a_run_goes(stylized_scene, bpy_module,
                                                               restyle_addon):
    bpy = bpy_module
    runner = restyle_addon.addon.runner
    run = runner.start_run(bpy.context, list(bpy.context.scene.objects), "test")
    with pytest.raises(RuntimeError, match="A Restyle run is already going: cancel it or wait"):
        bpy.ops.restyle.stylize_selected()
    with pytest.raises(RuntimeError, match="before reverting"):
        bpy.ops.restyle.revert()
    assert runner.run_to_end(run) == runner.DONE, run.report()
    assert bpy.ops.restyle.revert() == {"FINISHED"}
    assert not any(i.name.endswith(".restyle") for i in bpy.data.images)
