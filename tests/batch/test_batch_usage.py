"""``python -m core batch`` as a user runs it: bad usage (exit 2), the resume records, and
the default local Ray instance started and stopped by the command itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from batch_scenes import build_scene, write_corrupt, write_texture

from core.batch import summary
from core.batch.settings import BatchSettings
from core.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def settings_for(argv: list[str]) -> BatchSettings:
    return BatchSettings.from_args(build_parser().parse_args(["batch", *argv]))


@pytest.fixture
def two_levels(tmp_path) -> Path:
    """Two folders that each hold a 'level.blend' (not real scenes: never opened here)."""
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "level.blend").write_bytes(b"BLENDER")
    return tmp_path


@pytest.mark.parametrize("case, words", [
    ("same_stem", ["same name", "level.blend"]),
    ("inside_out", ["inside the output folder"]),
    ("empty_folder", ["holds no .blend files"]),
    ("not_blend", ["is not a .blend file"]),
    ("unknown_style", ["No style model named 'no_such_style'", "starry_night"]),
])
def test_bad_usage_exits_2_with_a_clear_message(two_levels, capsys, case, words):
    out = two_levels / "out"
    scenes = {"same_stem": [two_levels / "a", two_levels / "b"],
              "inside_out": [out / "x.blend"],
              "empty_folder": [two_levels / "empty"],
              "not_blend": [two_levels / "notes.txt"],
              "unknown_style": [two_levels / "a"]}[case]
    (two_levels / "empty").mkdir()
    (two_levels / "notes.txt").write_text("hi")
    out.mkdir()
    (out / "x.blend").write_bytes(b"BLENDER")
    style = "no_such_style" if case == "unknown_style" else "starry_night"
    code = main(["batch", *map(str, scenes), "--style", style, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    for word in words:
        assert word in err
    assert not (out / "batch.json").exists()


def test_style_and_style_images_are_exclusive(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["batch", str(tmp_path), "--style", "udnie", "--style-image", "a.jpg",
              "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2


def test_a_done_record_holds_only_while_inputs_and_outputs_stay(tmp_path):
    scene, texture = tmp_path / "s.blend", write_texture(tmp_path / "t.png", (9, 9, 9))
    scene.write_bytes(b"BLENDER")
    settings = settings_for([str(scene), "--style", "udnie", "--out", str(tmp_path / "o")])
    outputs = settings.outputs("s")
    for name in ("blend_out", "export"):
        outputs[name].parent.mkdir(parents=True, exist_ok=True)
        outputs[name].write_bytes(b"x")
    report = outputs["export"].with_suffix(".report.json")
    report.write_text("{}")
    entry = {"scene": str(scene), "state": "done", "output": str(outputs["export"]),
             "report": str(report), "blend": str(outputs["blend_out"])}
    key = settings.key(summary.sha256_file(scene), "m" * 64)
    summary.save_record(settings, scene, key, entry, [str(scene), str(texture)])
    assert summary.previous_result(settings, scene, key) == entry
    assert summary.previous_result(settings, scene, key[::-1]) is None  # other settings
    write_texture(texture, (200, 9, 9))  # a texture the scene reads changed
    assert summary.previous_result(settings, scene, key) is None
    summary.save_record(settings, scene, key, entry, [str(scene), str(texture)])
    report.unlink()  # an output is gone
    assert summary.previous_result(settings, scene, key) is None


def test_settings_key_follows_every_setting(tmp_path):
    base = [str(tmp_path), "--style", "udnie", "--out", str(tmp_path / "o")]
    (tmp_path / "s.blend").write_bytes(b"BLENDER")
    keys = {settings_for(base + extra).key("b" * 64, "m" * 64)
            for extra in ([], ["--strength", "0.5"], ["--format", "gltf"], ["--unlit"])}
    assert len(keys) == 4


def test_default_runs_a_local_loopback_ray_and_reports_broken_scenes(bpy_module, tmp_path):
    """No --address: the command starts its own Ray, bound to loopback, and stops it."""
    folder = tmp_path / "levels"
    write_corrupt(folder / "broken.blend")
    build_scene(bpy_module, folder / "missing.blend", 2)
    (folder / "textures" / "missing_0.png").unlink()
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "core", "batch", str(folder), "--style",
                           "starry_night", "--out", str(out)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600)
    assert done.returncode == 1, done.stderr
    data = json.loads((out / "batch.json").read_text())
    assert data["engine"] == "ray" and data["address"].startswith("127.0.0.1:")
    scenes = {Path(e["scene"]).name: e for e in data["scenes"]}
    assert scenes["broken.blend"]["state"] == "failed"
    assert "not a readable .blend" in scenes["broken.blend"]["error"]
    missing = scenes["missing.blend"]
    assert missing["state"] == "failed" and "missing_0.png" in missing["error"]
    assert "does not exist" in missing["error"]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 4, done.stdout  # header, two scenes, footer: Ray stays quiet
    assert not (out / "missing.blend").exists()  # failed before anything was written


def test_parser_keeps_stylize_defaults():
    """The look options are shared with ``batch``; ``stylize`` keeps its defaults."""
    args = build_parser().parse_args(["stylize", "--model", "m", "x.png", "--out", "o"])
    assert (args.strength, args.seamless, args.preserve_color) == (1.0, "auto", False)
