"""``python -m core`` end to end in real subprocesses: outputs, one-line errors, exit codes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tiny_models import ROOT, run_cli, smooth_image, tiny_generator, to_uint8

from core.store import save_model


@pytest.fixture()
def workspace(tmp_path):
    cache = tmp_path / "cache"
    save_model(tiny_generator(), {"description": "tiny cli model"}, cache / "models" / "tiny")
    Image.fromarray(to_uint8(smooth_image(40, 48))).save(tmp_path / "a.png")
    Image.fromarray(to_uint8(smooth_image(32, 32, seed=1))).convert("L").save(tmp_path / "b.jpg")
    return tmp_path, {"RESTYLE_CACHE": str(cache)}


def _one_line_error(result, code=1):
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert lines[-1].startswith("python -m core") and "error:" in lines[-1]
    return lines[-1]


def test_styles_lists_cached_models(workspace):
    folder, env = workspace
    result = run_cli("styles", cwd=folder, env=env)
    assert result.returncode == 0, result.stderr
    assert "tiny" in result.stdout and "cache" in result.stdout


def test_stylize_writes_each_input_in_its_own_format(workspace):
    folder, env = workspace
    result = run_cli("stylize", "--model", "tiny", "a.png", "b.jpg", "--out", "out",
                     "--tile", "32", "--seamless", "off", "--strength", "0.9", cwd=folder, env=env)
    assert result.returncode == 0, result.stderr
    a, b = Image.open(folder / "out" / "a.png"), Image.open(folder / "out" / "b.jpg")
    assert (a.size, a.mode, b.size, b.mode) == ((48, 40), "RGB", (32, 32), "L")
    assert "100.0%" in result.stderr  # the progress bar
    assert not np.array_equal(np.asarray(a), np.asarray(Image.open(folder / "a.png")))


@pytest.mark.parametrize("args,expected", [
    (["--model", "tiny", "missing.png", "--out", "out"], "missing.png does not exist"),
    (["--model", "tiny", "bad.png", "--out", "out"], "bad.png is corrupt"),
    (["--model", "nope", "a.png", "--out", "out"], "No style model named 'nope'"),
    (["--model", "tiny", "a.png", "--out", "."], "would overwrite the input"),
    (["--model", "tiny", "a.png", "--out", "out", "--strength", "3"], "Strength"),
])
def test_stylize_bad_input_is_one_clear_line(workspace, args, expected):
    folder, env = workspace
    (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    line = _one_line_error(run_cli("stylize", *args, cwd=folder, env=env))
    assert expected in line
    assert not (folder / "out").exists() or not any((folder / "out").iterdir())


def test_bad_option_is_an_argparse_error(workspace):
    folder, env = workspace
    result = run_cli("stylize", "--model", "tiny", "a.png", "--out", "o", "--seamless", "maybe",
                     cwd=folder, env=env)
    assert result.returncode == 2 and "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_then_stylize_with_the_new_model(workspace):
    folder, env = workspace
    (folder / "content").mkdir()  # a folder of content images, as the CLI accepts
    Image.open(ROOT / "demo/assets/crate/crate.jpg").resize((64, 64)).save(folder / "content/c.png")
    Image.open(ROOT / "core/data/styles/udnie.jpg").resize((64, 64)).save(folder / "style.png")
    result = run_cli("train", "--style", "style.png", "--content", "content", "--out", "m",
                     "--steps", "2", "--size", "32", "--seed", "1", "--device", "cpu",
                     cwd=folder, env=env)
    assert result.returncode == 0, result.stderr
    assert {p.name for p in (folder / "m").iterdir()} == {"model.safetensors", "model.json"}
    result = run_cli("stylize", "--model", "m", "a.png", "--out", "out", cwd=folder, env=env)
    assert result.returncode == 0, result.stderr
    assert Image.open(folder / "out" / "a.png").size == (48, 40)


def test_train_with_a_missing_style_fails_cleanly(workspace):
    folder, env = workspace
    line = _one_line_error(run_cli("train", "--style", "nope.jpg", "--content", "a.png",
                                   "--out", "m", "--steps", "1", cwd=folder, env=env))
    assert "nope.jpg" in line
    assert not (folder / "m").exists()


def test_serve_is_delegated_to_the_service(workspace):
    folder, env = workspace
    result = run_cli("serve", "--help", cwd=folder, env=env)
    assert result.returncode == 0, result.stderr
    assert "--port" in result.stdout


def test_training_options_out_of_range_are_usage_errors(workspace):
    folder, env = workspace
    line = _one_line_error(run_cli("train", "--style", "a.png", "--content", "a.png",
                                   "--out", "m", "--steps", "0", cwd=folder, env=env), code=2)
    assert "--steps = 0 is out of range (1..1000000)" in line
    assert not (folder / "m").exists()


def test_batch_and_service_check_training_settings_by_the_same_rule(tmp_path):
    from core.batch.settings import BatchSettings
    from core.cli import build_parser
    from core.errors import UsageError
    from core.service.settings import SettingsError, parse_settings

    (tmp_path / "scene.blend").write_bytes(b"")
    args = build_parser().parse_args(["batch", str(tmp_path / "scene.blend"), "--style-image",
                                      str(tmp_path / "scene.blend"), "--out",
                                      str(tmp_path / "out"), "--size", "8"])
    with pytest.raises(UsageError, match=r"--size = 8 is out of range \(16..4096\)"):
        BatchSettings.from_args(args)
    with pytest.raises(SettingsError, match=r"'size' = 8 is out of range \(16..4096\)"):
        parse_settings({"size": 8}, "cpu")


def test_time_budget_option_zero_is_no_limit_and_negative_is_refused():
    """The default run stops on a time budget; ``--time-budget 0`` lifts it (reproducible)."""
    from core.cli import build_parser
    from core.errors import UsageError
    from core.training.options import DEFAULT_TIME_BUDGET_S, train_overrides
    from core.training.trainer import TrainSettings

    def overrides(*extra: str) -> dict:
        args = build_parser().parse_args(["train", "--style", "a.png", "--content", "a.png",
                                          "--out", "m", *extra])
        return train_overrides(args)

    assert TrainSettings().time_budget_s == DEFAULT_TIME_BUDGET_S
    assert overrides() == {}
    assert overrides("--time-budget", "0") == {"time_budget_s": None}
    assert overrides("--time-budget", "30") == {"time_budget_s": 30.0}
    with pytest.raises(UsageError, match=r"--time-budget = -1.0 is out of range"):
        overrides("--time-budget", "-1")
