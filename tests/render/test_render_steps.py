"""Run preparation renders one view per step, so the UI stays live and Esc works between them.

Real Blender, real renders (Cycles, 64 px, one sample); no worker is needed: the run is
cancelled before it would start one.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from blender_scene import use_tiny_training

VIEWS = 3


def _renders(run) -> int:
    folder = Path(run.job_dir) / "renders"
    return len(list(folder.iterdir())) if folder.is_dir() else 0


def _state(bpy) -> dict:
    """What a cancelled run must leave as it was (renders use temporary scenes and cameras)."""
    return {"scenes": sorted(s.name for s in bpy.data.scenes),
            "objects": sorted(o.name for o in bpy.data.objects),
            "cameras": sorted(c.name for c in bpy.data.cameras),
            "worlds": sorted(w.name for w in bpy.data.worlds),
            "images": sorted((i.name, i.filepath) for i in bpy.data.images),
            "nodes": sorted((m.name, n.name, n.image.name if n.image else "")
                            for m in bpy.data.materials if m.node_tree
                            for n in m.node_tree.nodes if n.type == "TEX_IMAGE")}


def _with_renders(bpy) -> None:
    use_tiny_training(bpy, renders=True)
    render = bpy.context.scene.restyle_render
    render.render_count, render.render_size, render.density_size = VIEWS, 64, 64
    render.samples = 1


def test_each_step_renders_at_most_one_view(test_scene, bpy_module, restyle_addon):
    bpy = bpy_module
    runner = restyle_addon.addon.runner
    _with_renders(bpy)
    run = runner.start_run(bpy.context, list(bpy.context.scene.objects), "test")
    assert _renders(run) == 0  # starting a run renders nothing
    counts = [0]
    while run.body is None:
        assert run.step() == runner.RUNNING, run.report()
        counts.append(_renders(run))
    steps = [b - a for a, b in itertools.pairwise(counts)]
    assert max(steps) == 1 and counts[-1] == 2 * VIEWS, counts  # training views + UV passes
    run.request_cancel()
    assert run.step() == runner.CANCELLED


def test_cancel_between_renders_leaves_the_scene_unchanged(test_scene, bpy_module,
                                                           restyle_addon):
    bpy = bpy_module
    runner, session = restyle_addon.addon.runner, restyle_addon.addon.session
    _with_renders(bpy)
    session.drop_client()
    before = _state(bpy)
    run = runner.start_run(bpy.context, list(bpy.context.scene.objects), "test")
    while _renders(run) < 2:
        assert run.step() == runner.RUNNING, run.report()
        assert _state(bpy) == before  # nothing is left in the file between two steps
    run.request_cancel()
    assert run.step() == runner.CANCELLED
    assert _state(bpy) == before
    assert bpy.context.scene.restyle.last_report.startswith("Cancelled")
    assert session.current_client() is None  # cancelled before any worker was needed
