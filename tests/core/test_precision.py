"""Precision: auto's choice and fallback, tiled = untiled per precision, bf16 close to fp32,
alpha exact in bf16, and a stylize CLI run that stays free of the web stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_models import ROOT, tiny_generator, tiny_model

from core.errors import BadInput
from core.inference import tiling
from core.inference.stylize import StylizeSettings, stylize_array, stylize_file
from core.inference.tiling import stylize_tiled
from core.model.generator import build_generator
from core.model.norm import TileNorm
from core.precision import (
    MIN_BF16_SPEEDUP,
    CpuSupport,
    cpu_support,
    measured_bf16_speedup,
    resolve_precision,
)
from core.store import StyleModel

ASSETS = ROOT / "demo" / "assets"
NO_BF16 = CpuSupport("AVX2", avx512_bf16=False, amx=False)
AMX = CpuSupport("AVX512", avx512_bf16=True, amx=True)


def _never_measure() -> float:
    raise AssertionError("a CPU without bf16 hardware must not be measured")


def real_texture(name: str, size: int = 96) -> np.ndarray:
    """A size x size uint8 crop of a demo texture (a real photo, not noise)."""
    path = next(ASSETS.glob(f"*/{name}"))
    rgb = np.asarray(Image.open(path).convert("RGB").resize((size, size), Image.LANCZOS))
    return np.ascontiguousarray(rgb)


@pytest.fixture(scope="module")
def full_size():
    """The default architecture (its real depth and widths) with a random, non-zero head."""
    torch.manual_seed(0)
    generator = build_generator()
    torch.nn.init.normal_(generator.head.weight, std=0.05)
    return StyleModel("full", generator.eval(), {}, None)


def test_auto_is_fp32_on_a_cpu_without_bf16_hardware():
    precision = resolve_precision("cpu", "auto", NO_BF16, speedup=_never_measure)
    assert precision.name == "fp32" and precision.dtype is None
    assert "emulated" in precision.reason and "AVX2" in precision.reason


def test_auto_takes_bf16_only_where_it_measures_faster():
    fast = resolve_precision("cpu", "auto", AMX, speedup=lambda: 3.5)
    assert fast.name == "bf16" and fast.dtype is torch.bfloat16
    slow = resolve_precision("cpu", "auto", AMX, speedup=lambda: MIN_BF16_SPEEDUP - 0.1)
    assert slow.name == "fp32" and "measured only" in slow.reason


def test_explicit_choices_and_other_devices():
    assert resolve_precision("cpu", "fp32", AMX, speedup=_never_measure).name == "fp32"
    # An explicit bf16 runs even where it is emulated: correct, only slower.
    assert resolve_precision("cpu", "bf16", NO_BF16, speedup=_never_measure).name == "bf16"
    assert resolve_precision("mps", "auto").name == "fp16"
    assert resolve_precision("mps", "fp32").dtype is None
    with pytest.raises(BadInput, match=r"fp16.*auto, fp32, bf16"):
        resolve_precision("cpu", "fp16")
    with pytest.raises(BadInput, match="Precision"):
        StylizeSettings(precision="half").validate()


def test_this_machine_is_described_and_measured():
    support = cpu_support()
    assert support.capability == torch.backends.cpu.get_cpu_capability()
    assert support.capability in support.line()
    assert measured_bf16_speedup() > 0
    auto = resolve_precision("cpu", "auto")
    assert auto.name == ("bf16" if support.native_bf16 and measured_bf16_speedup()
                         >= MIN_BF16_SPEEDUP else "fp32")


def test_tilenorm_keeps_fp32_statistics_under_autocast():
    """Statistics in fp32 always; the output in fp32 for training, and in the input's
    bf16 at inference, where the next conv takes bf16 anyway."""
    torch.manual_seed(0)
    norm = TileNorm(4)
    x = torch.randn(1, 4, 16, 16) * 3 + 100  # a large mean: bf16 statistics would be off
    expected = torch.nn.functional.instance_norm(x.bfloat16().float())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        trained = norm(x.bfloat16())
        with torch.no_grad():
            inferred = norm(x.bfloat16())
    assert trained.dtype == torch.float32
    assert torch.allclose(trained, expected, atol=1e-4)
    assert inferred.dtype == torch.bfloat16
    assert torch.allclose(inferred.float(), expected, atol=2e-2)  # bf16 rounding of ~+-3


@pytest.mark.parametrize("name", ["fp32", "bf16"])
def test_tiled_equals_untiled_within_each_precision(monkeypatch, name):
    precision = resolve_precision("cpu", name)
    generator = tiny_generator(seed=5, head_std=0.2)
    image = real_texture("crate.jpg", 120)
    whole = stylize_tiled(generator, image, precision=precision)  # one pass
    assert np.abs(whole.astype(int) - image).mean() > 2
    monkeypatch.setattr(tiling, "ONE_PASS_MAX_PIXELS", 0)
    for tile in (40, 64):
        tiled = stylize_tiled(generator, image, tile=tile, precision=precision)
        diff = np.abs(tiled.astype(int) - whole)
        # bf16 rounding of a conv output can differ by one step between tile shapes.
        assert diff.max() <= 1 and diff.mean() < 0.01, (name, tile)


@pytest.mark.parametrize("texture", ["crate.jpg", "barrelS_D.jpg"])
def test_bf16_is_within_one_level_of_fp32_on_real_textures(full_size, texture):
    image = real_texture(texture)
    fp32 = stylize_array(full_size, image, StylizeSettings(precision="fp32"))
    bf16 = stylize_array(full_size, image, StylizeSettings(precision="bf16"))
    assert np.abs(fp32.astype(float) - image).mean() > 5  # the network really acts
    difference = np.abs(fp32.astype(float) - bf16) / 255.0
    assert 0 < difference.mean() < 1 / 255  # bf16 really ran, and stayed close


def test_bf16_keeps_alpha_bit_exact(tmp_path):
    model = StyleModel("tiny", tiny_generator(seed=3), {}, None)
    rgb = real_texture("crate.jpg", 72)
    alpha = np.random.default_rng(0).integers(0, 256, rgb.shape[:2], dtype=np.uint8)
    src = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(src)
    dst = stylize_file(model, src, tmp_path / "out.png", StylizeSettings(precision="bf16"))
    out = np.asarray(Image.open(dst))
    assert out.shape == (72, 72, 4)
    assert np.array_equal(out[..., 3], alpha)
    assert not np.array_equal(out[..., :3], rgb)


def test_intermediate_results_are_written_fast_with_the_same_pixels(tmp_path):
    model = StyleModel("tiny", tiny_generator(seed=4), {}, None)
    src = tmp_path / "in.png"
    Image.fromarray(real_texture("rock01.jpg", 200)).save(src)
    kept = stylize_file(model, src, tmp_path / "kept.png", StylizeSettings())
    fast = stylize_file(model, src, tmp_path / "fast.png", StylizeSettings(), intermediate=True)
    assert np.array_equal(np.asarray(Image.open(kept)), np.asarray(Image.open(fast)))
    assert kept.read_bytes() != fast.read_bytes()  # a different zlib level, not a copy


PROBE = """
import json, sys
from core.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("fastapi", "uvicorn", "pydantic", "starlette") if m in sys.modules)
print("PROBE", json.dumps({"code": code, "heavy": heavy}))
"""


def test_the_stylize_cli_loads_no_web_stack(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(real_texture("crate.jpg", 64)).save(src)
    model = tiny_model(tmp_path / "model").path
    result = subprocess.run(
        [sys.executable, "-c", PROBE, "stylize", "--model", str(model), str(src),
         "--out", str(tmp_path / "out"), "--precision", "bf16"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = [x for x in result.stdout.splitlines() if x.startswith("PROBE ")]
    assert line, result.stderr
    probe = json.loads(line[0][6:])
    assert probe == {"code": 0, "heavy": []}, result.stderr
    assert (tmp_path / "out" / "in.png").is_file()


def test_training_runs_in_bf16_autocast_and_keeps_fp32_weights():
    from core.training.trainer import TrainSettings, run_training

    rng = np.random.default_rng(0)
    images = [torch.from_numpy(rng.random((3, 48, 48), dtype=np.float32)) for _ in range(2)]
    settings = TrainSettings(steps=2, size=32, batch=1, device="cpu", precision="bf16",
                             arch={"width": 8, "deep_width": 16, "blocks": 1}, adv_start=0.0)
    generator, stats = run_training(images[:1], images[1:], settings)
    assert stats["steps_done"] == 2 and np.isfinite(stats["final_losses"]["total"])
    assert all(p.dtype == torch.float32 for p in generator.parameters())
    assert generator.head.weight.abs().sum() > 0  # it learned: the head left zero


def test_worker_settings_take_the_serve_default_and_check_the_word():
    from core.service.settings import SettingsError, parse_settings

    train, stylize = parse_settings({}, "cpu", "bf16")
    assert train.precision == stylize.precision == "bf16"
    assert parse_settings({"precision": "fp32"}, "cpu", "bf16")[1].precision == "fp32"
    with pytest.raises(SettingsError, match="precision"):
        parse_settings({"precision": "fp16"}, "cpu")
