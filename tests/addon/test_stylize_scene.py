"""End to end in real Blender with a real worker: stylize, revert, save/reload, cancel, kill.

Sizes are tiny (64 px textures, a few training steps): these check behaviour, not looks.
A custom style image is used so the tests need no shipped model; the trained model is
cached by the worker, so after the first test the others reuse it.
"""

import hashlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from blender_scene import ROOT, act_when, use_tiny_training


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _original_files(assets: Path) -> dict[str, str]:
    return {p.name: _digest(p) for p in sorted(assets.rglob("*")) if p.is_file()}


def _node_images(bpy) -> dict[str, str]:
    """Every image node in every material and group -> the image it shows."""
    owners = [(m.name, m.node_tree) for m in bpy.data.materials if m.node_tree]
    owners += [(g.name, g) for g in bpy.data.node_groups]
    return {f"{owner}:{node.name}": (node.image.name if node.image else "")
            for owner, tree in owners for node in tree.nodes if node.type == "TEX_IMAGE"}


def _scene_state(bpy) -> dict:
    """What a failed or cancelled run must leave exactly as it was."""
    return {
        "nodes": _node_images(bpy),
        "images": sorted((i.name, i.filepath, i.use_fake_user, tuple(i.size)) for i in
                         bpy.data.images),
    }


@pytest.fixture
def stylized_scene(test_scene, bpy_module):
    use_tiny_training(bpy_module)
    return test_scene


def test_stylize_scene_replaces_every_colour_texture(stylized_scene, bpy_module, restyle_addon):
    bpy = bpy_module
    scene = stylized_scene
    before_files = _original_files(scene["assets"])
    sizes = {name: tuple(bpy.data.images[name].size) for name in scene["colour"]}
    non_colour = {n: (bpy.data.images[n].name, bpy.data.images[n].filepath)
                  for n in scene["non_colour"]}

    assert bpy.ops.restyle.stylize_scene() == {"FINISHED"}, bpy.context.scene.restyle.last_report

    report = bpy.context.scene.restyle.last_report
    assert report.startswith(f"Restyled {len(scene['colour'])} texture(s)"), report
    assert "Skipped missing.png: file not found" in report
    for name in scene["colour"]:
        stylized = bpy.data.images[name + ".restyle"]
        assert stylized["restyle_original"] == bpy.data.images[name]
        assert tuple(stylized.size) == sizes[name], name
        assert bpy.data.images[name].use_fake_user
    nodes = _node_images(bpy)
    assert not any(v in scene["colour"] for v in nodes.values())
    for name, (_n, path) in non_colour.items():
        assert bpy.data.images[name].filepath == path
        assert name in nodes.values()
    assert _original_files(scene["assets"]) == before_files


def test_revert_restores_originals_and_running_again_does_not_stack(stylized_scene, bpy_module,
                                                                     restyle_addon):
    bpy = bpy_module
    before = _scene_state(bpy)
    assert bpy.ops.restyle.stylize_scene() == {"FINISHED"}
    assert bpy.ops.restyle.stylize_scene(wait=True) == {"FINISHED"}
    names = [i.name for i in bpy.data.images]
    assert not any(n.endswith(".restyle.001") for n in names), names
    assert sum(n.endswith(".restyle") for n in names) == len(stylized_scene["colour"])
    stylized = _node_images(bpy)
    with restyle_addon.addon.writeback.showing_originals():  # what training renders see
        assert _node_images(bpy) == before["nodes"]
    assert _node_images(bpy) == stylized
    assert bpy.ops.restyle.revert(scope="ALL") == {"FINISHED"}
    assert _scene_state(bpy) == before


def test_save_reload_keeps_stylized_look_and_revert(stylized_scene, bpy_module, tmp_path):
    bpy = bpy_module
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    before = _scene_state(bpy)
    assert bpy.ops.restyle.stylize_scene() == {"FINISHED"}
    out_dir = tmp_path / "restyle"
    files = sorted(p.name for p in out_dir.iterdir())
    assert len(files) == len(stylized_scene["colour"]), files
    stylized = _node_images(bpy)
    bpy.ops.wm.save_mainfile()
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    assert _node_images(bpy) == stylized
    for name in stylized_scene["colour"]:
        image = bpy.data.images[name + ".restyle"]
        assert image.has_data or image.size[0] > 0
        assert image["restyle_original"].name == name
    assert bpy.ops.restyle.revert(scope="ALL") == {"FINISHED"}
    assert _scene_state(bpy) == before


def _cached_models() -> set[str]:
    models = Path(os.environ["RESTYLE_CACHE"]) / "models"
    return {p.name for p in models.iterdir()} if models.is_dir() else set()


def test_stylize_selected_only_touches_selection_and_reuses_scene_model(stylized_scene,
                                                                         bpy_module):
    bpy = bpy_module
    assert bpy.ops.restyle.stylize_scene() == {"FINISHED"}
    assert bpy.ops.restyle.revert() == {"FINISHED"}
    models = _cached_models()
    assert models, "training should have cached a model"
    for obj in bpy.context.scene.objects:
        obj.select_set(obj.name == "PackedPlane")
    assert bpy.ops.restyle.stylize_selected() == {"FINISHED"}
    assert [i.name for i in bpy.data.images if i.name.endswith(".restyle")] == [
        "packed.png.restyle"]
    assert bpy.data.images["packed.png.restyle"].packed_file is not None  # unsaved .blend
    assert _cached_models() == models  # trained on the whole scene: same model, no retrain


def test_output_folder_preference_and_revert_selected(stylized_scene, bpy_module, tmp_path,
                                                      restyle_addon):
    bpy = bpy_module
    prefs = bpy.context.preferences.addons[restyle_addon.__name__].preferences
    prefs.output_dir = str(tmp_path / "stylized")
    try:
        assert bpy.ops.restyle.stylize_scene() == {"FINISHED"}
    finally:
        prefs.output_dir = ""
    written = sorted(p.name for p in (tmp_path / "stylized").iterdir())
    assert "crate.jpg.restyle.jpg" in written or "crate.jpg.restyle.png" in written, written
    assert bpy.data.images["crate.jpg.restyle"].packed_file is None
    for obj in bpy.context.scene.objects:
        obj.select_set(obj.name == "SharedPlane")
    assert bpy.ops.restyle.revert(scope="SELECTED") == {"FINISHED"}
    shared = bpy.data.materials["SharedCrate"].node_tree.nodes
    crate = bpy.data.materials["Crate"].node_tree.nodes
    assert next(n for n in shared if n.type == "TEX_IMAGE").image.name == "crate.jpg"
    crate_colour = crate["Principled BSDF"].inputs["Base Color"].links[0].from_node
    assert crate_colour.image.name == "crate.jpg.restyle"  # not selected: still stylized


def test_missing_worker_python_is_a_clear_error(stylized_scene, bpy_module, restyle_addon):
    bpy = bpy_module
    prefs = bpy.context.preferences.addons[restyle_addon.__name__].preferences
    before = _scene_state(bpy)
    saved, prefs.worker_python = prefs.worker_python, "/nonexistent/python"
    try:
        with pytest.raises(RuntimeError, match="Worker Python"):
            bpy.ops.restyle.stylize_scene()
    finally:
        prefs.worker_python = saved
    assert _scene_state(bpy) == before


def _in_thread_when_running(restyle_addon, scene_name: str, action) -> threading.Thread:
    """Call ``action(run)`` from a thread once the scene's run has a running job."""
    runner = restyle_addon.addon.runner

    def running():
        run = runner.ACTIVE.get(scene_name)
        return run if run is not None and run.job.get("state") == "running" else None

    return act_when(running, action)


def _fresh_training(bpy) -> None:
    """Make the run need a new model (a different step count) so it runs for a while."""
    bpy.context.scene.restyle.steps_override = 400


def test_cancel_mid_job_leaves_scene_unchanged(stylized_scene, bpy_module, restyle_addon):
    bpy = bpy_module
    _fresh_training(bpy)
    before = _scene_state(bpy)
    thread = _in_thread_when_running(restyle_addon, bpy.context.scene.name,
                                     lambda run: run.request_cancel())
    assert bpy.ops.restyle.stylize_scene() == {"CANCELLED"}
    thread.join(5)
    assert bpy.context.scene.restyle.last_report.startswith("Cancelled")
    assert _scene_state(bpy) == before


def test_killed_worker_is_reported_and_next_run_works(stylized_scene, bpy_module,
                                                       restyle_addon):
    bpy = bpy_module
    session = restyle_addon.addon.session
    _fresh_training(bpy)
    before = _scene_state(bpy)
    killed = []

    def kill(_run) -> None:
        pid = session.current_client().pid
        killed.append(pid)
        os.kill(pid, signal.SIGKILL)

    thread = _in_thread_when_running(restyle_addon, bpy.context.scene.name, kill)
    with pytest.raises(RuntimeError, match="worker stopped unexpectedly"):
        bpy.ops.restyle.stylize_scene()  # an error report raises when called from Python
    thread.join(5)
    report = bpy.context.scene.restyle.last_report
    assert killed and report.startswith("Failed"), report
    assert "killed by signal 9" in report
    assert _scene_state(bpy) == before

    bpy.context.scene.restyle.steps_override = 3
    assert bpy.ops.restyle.stylize_scene() == {"FINISHED"}, bpy.context.scene.restyle.last_report
    assert session.current_client().pid != killed[0]


def test_stepped_run_updates_the_panel_state(stylized_scene, bpy_module, restyle_addon):
    """The path the modal operator takes: one short step per timer tick, state on the scene."""
    bpy = bpy_module
    runner = restyle_addon.addon.runner
    props = bpy.context.scene.restyle
    run = runner.start_run(bpy.context, list(bpy.context.scene.objects), "test")
    seen = [(props.job_state, props.job_progress)]
    assert bpy.context.scene.name in runner.ACTIVE
    assert not bpy.ops.restyle.stylize_scene.poll()  # one run per scene at a time
    while run.step() == runner.RUNNING:
        seen.append((props.job_state, props.job_progress))
        time.sleep(0.05)
    assert seen[0] == ("STARTING", 0.0)
    assert "RUNNING" in {state for state, _ in seen}
    progress = [p for _, p in seen]
    assert progress == sorted(progress)
    assert (props.job_state, props.job_progress, props.job_phase) == ("DONE", 1.0, "Done")
    assert bpy.context.scene.name not in runner.ACTIVE
    assert props.last_report.startswith("Restyled 8 texture(s)")


def _shipped_styles(restyle_addon) -> list[dict]:
    return restyle_addon.addon.paths.shipped_styles()


def test_default_settings_apply_a_shipped_style_without_training(test_scene, bpy_module,
                                                                 restyle_addon):
    """Out of the box: a fresh scene, default settings (only smaller textures for speed)."""
    bpy = bpy_module
    styles = _shipped_styles(restyle_addon)
    if not styles:
        pytest.skip("this build has no shipped style in core/styles")
    props = bpy.context.scene.restyle
    assert props.style_source == "SHIPPED" and props.shipped_style == styles[0]["name"]
    props.max_size = 64
    models = _cached_models()
    assert bpy.ops.restyle.stylize_scene() == {"FINISHED"}, props.last_report
    assert props.last_report.startswith(f"Restyled {len(test_scene['colour'])} texture(s) with "
                                        f"{styles[0]['name']}")
    assert _cached_models() == models  # nothing trained
    for name in test_scene["colour"]:
        assert bpy.data.images[name + ".restyle"]["restyle_original"].name == name


def test_fit_to_scene_fine_tunes_a_shipped_style(test_scene, bpy_module, restyle_addon):
    bpy = bpy_module
    if not _shipped_styles(restyle_addon):
        pytest.skip("this build has no shipped style in core/styles")
    props = bpy.context.scene.restyle
    props.fit_to_scene = True
    props.steps_override = 2
    props.max_size = 64
    bpy.context.scene.restyle_render.render_aware = False
    models = _cached_models()
    assert bpy.ops.restyle.stylize_scene() == {"FINISHED"}, props.last_report
    new = _cached_models() - models
    assert len(new) == 1
    meta = json.loads((Path(os.environ["RESTYLE_CACHE"]) / "models" / new.pop()
                       / "model.json").read_text())
    assert meta["train_settings"]["init_from"] == props.shipped_style  # fine-tuned from it


def test_loading_a_file_cancels_a_running_job(stylized_scene, bpy_module, restyle_addon):
    bpy = bpy_module
    runner = restyle_addon.addon.runner
    run = runner.start_run(bpy.context, list(bpy.context.scene.objects), "test")
    run.step()
    bpy.ops.wm.read_homefile(use_empty=True)  # ends modal operators: the run must not linger
    assert runner.ACTIVE == {} and run.state == runner.CANCELLED
    assert bpy.ops.restyle.stylize_scene.poll()


@pytest.fixture
def remote_worker(restyle_addon, bpy_module):
    """A worker started by hand with a token, as on a studio server; yields its URL."""
    import json
    import subprocess

    from blender_scene import venv_python

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([str(venv_python()), "-m", "core", "serve", "--port", "0",
                             "--token", "studio-token"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("RESTYLE_READY "):
                port = json.loads(line.split(" ", 1)[1])["port"]
                break
        else:
            pytest.fail("the worker did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_remote_worker_uploads_and_downloads(stylized_scene, bpy_module, restyle_addon,
                                             remote_worker):
    bpy = bpy_module
    prefs = bpy.context.preferences.addons[restyle_addon.__name__].preferences
    prefs.worker_mode, prefs.remote_url = "REMOTE", remote_worker
    try:
        prefs.remote_token = "wrong"
        before = _scene_state(bpy)
        with pytest.raises(RuntimeError, match="rejected the token"):
            bpy.ops.restyle.stylize_scene()
        assert _scene_state(bpy) == before
        prefs.remote_token = "studio-token"
        assert bpy.ops.restyle.stylize_scene() == {"FINISHED"}, \
            bpy.context.scene.restyle.last_report
    finally:
        prefs.worker_mode, prefs.remote_url, prefs.remote_token = "LOCAL", "", ""
    for name in stylized_scene["colour"]:
        assert bpy.data.images[name + ".restyle"]["restyle_original"].name == name


def test_undo_restores_the_scene_before_stylize(stylized_scene, bpy_module):
    """Global (memfile) undo around a run, with the steps pushed as the UI would push them.

    (Letting the bpy module push an operator's undo step itself, ``undo=True``, crashes
    Blender 5.0's bpy module even for built-in operators, so the test pushes explicitly.)
    """
    bpy = bpy_module
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == "VIEW_3D")
    before = _scene_state(bpy)
    with bpy.context.temp_override(window=window, screen=window.screen, area=area):
        bpy.ops.ed.undo_push(message="before restyle")
        assert bpy.ops.restyle.stylize_scene() == {"FINISHED"}
        bpy.ops.ed.undo_push(message="Stylize Scene")
        stylized = _scene_state(bpy)
        assert stylized != before
        bpy.ops.ed.undo()
        assert _scene_state(bpy) == before
        bpy.ops.ed.redo()
        assert _scene_state(bpy) == stylized


def test_nothing_to_stylize_is_reported_without_a_worker(clean_scene, bpy_module,
                                                         restyle_addon):
    bpy = bpy_module
    session = restyle_addon.addon.session
    session.drop_client()
    assert bpy.ops.restyle.stylize_scene() == {"FINISHED"}
    assert bpy.context.scene.restyle.last_report.startswith("No colour textures to restyle")
    assert session.current_client() is None  # no worker started for nothing


def test_style_images_mode_without_an_image_says_what_to_do(test_scene, bpy_module):
    bpy = bpy_module
    bpy.context.scene.restyle.style_source = "IMAGES"
    before = _scene_state(bpy)
    with pytest.raises(RuntimeError, match="No style image chosen"):
        bpy.ops.restyle.stylize_scene()
    assert _scene_state(bpy) == before
