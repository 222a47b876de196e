"""Training behaviour at toy sizes: losses fall, style moves, seeds repeat, cancel, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.errors import BadInput, Cancelled
from core.model.features import RandomFeatures
from core.model.generator import ARCH_TYPE
from core.training import losses
from core.training.data import PAINTING_MAX_SIDE, CropSampler, fit_painting, load_rgb
from core.training.options import EFFORT
from core.training.trainer import TrainSettings, _Run, run_training, train_style

TINY = {"size": 32, "batch": 2, "arch": {"width": 8, "deep_width": 16, "blocks": 1},
        "device": "cpu", "lr": 3e-3}


def _content(path: Path) -> Path:
    """Smooth shapes on a gradient: something with edges to keep."""
    y, x = np.mgrid[0:64, 0:64] / 63.0
    img = np.stack([x, y, 0.5 * np.ones_like(x)], axis=2)
    img[16:40, 20:44] = (0.9, 0.8, 0.2)
    Image.fromarray((img * 255).astype(np.uint8)).save(path)
    return path


def _style(path: Path) -> Path:
    """Bold diagonal stripes in two colours: a style far from the content."""
    y, x = np.mgrid[0:64, 0:64]
    stripes = ((x + y) // 4) % 2 == 0
    img = np.where(stripes[..., None], [30, 40, 200], [240, 120, 20]).astype(np.uint8)
    Image.fromarray(img).save(path)
    return path


@pytest.fixture()
def images(tmp_path):
    return _style(tmp_path / "style.png"), _content(tmp_path / "content.png")


def _style_distance(out: torch.Tensor, style: torch.Tensor) -> float:
    """Sliced Wasserstein on a feature net the training did not use (other seed)."""
    net = RandomFeatures(seed=99)
    gen = torch.Generator().manual_seed(0)
    total = 0.0
    with torch.no_grad():
        for fo, fs in zip(net(out), net(style), strict=True):
            dirs = losses.random_directions(fo.shape[1], 64, gen, "cpu")
            total += float(losses.sliced_wasserstein(fo, fs, dirs))
    return total


def test_losses_fall_and_style_moves_toward_style(images):
    style_path, content_path = images
    style, content = load_rgb(style_path), load_rgb(content_path)
    settings = TrainSettings(steps=60, adv_weight=0.0, seed=3, **TINY)
    run = _Run([style], [content], settings)
    logs = [run.step(i / settings.steps) for i in range(settings.steps)]
    first = sum(entry["style"] for entry in logs[:5]) / 5
    last = sum(entry["style"] for entry in logs[-5:]) / 5
    assert last < 0.7 * first
    with torch.no_grad():
        out = run.G.eval()(content[None])
    # Judged on whole images by features the training did not use.
    assert _style_distance(out, style[None]) < 0.8 * _style_distance(content[None], style[None])


def test_adversarial_phase_runs_and_same_seed_same_weights(images):
    style, content = (load_rgb(p) for p in images)
    settings = TrainSettings(steps=6, adv_weight=0.05, adv_start=0.3, adv_ramp=0.2, seed=7,
                             **TINY)
    g1, stats = run_training([style], [content], settings)
    g2, _ = run_training([style], [content], settings)
    assert stats["steps_done"] == 6 and stats["final_losses"]["critic"] > 0
    for (k, a), (_, b) in zip(g1.state_dict().items(), g2.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    g3, _ = run_training([style], [content], TrainSettings(**{**vars(settings), "seed": 8}))
    assert not torch.equal(g1.head.weight, g3.head.weight)


_TRAIN_AND_HASH = """
import hashlib, sys
from pathlib import Path
from core.training.data import load_rgb
from core.training.trainer import TrainSettings, run_training
style, content = (load_rgb(Path(p)) for p in sys.argv[1:3])
settings = TrainSettings(steps=4, size=64, device="cpu", precision="fp32", adv_start=0.0)
generator, _ = run_training([style], [content], settings)
digest = hashlib.sha256()
for value in generator.state_dict().values():
    digest.update(value.numpy().tobytes())
print(digest.hexdigest())
"""


def test_a_seed_trains_the_same_weights_in_every_process(images):
    """The shipped styles must be reproducible by ``scripts/ship_styles.py``: at the default
    network's size some CPU backward kernels summed in thread order, and Adam turned the
    rounding into different weights from the second step."""
    root = Path(__file__).resolve().parents[2]

    def train() -> str:
        return subprocess.run([sys.executable, "-c", _TRAIN_AND_HASH, *map(str, images)],
                              cwd=root, capture_output=True, text=True, check=True).stdout

    first = train()
    assert len(first.strip()) == 64 and train() == first


def test_train_style_saves_loadable_model_and_caches(images, tmp_path, monkeypatch):
    from core.store import load_model

    monkeypatch.setenv("RESTYLE_CACHE", str(tmp_path / "cache"))
    style_path, content_path = images
    settings = TrainSettings(steps=3, **TINY)
    messages: list[str] = []
    folder = train_style([style_path], [content_path], None, settings,
                         progress=lambda f, phase, m: messages.append(m))
    assert folder.parent == tmp_path / "cache" / "models"
    meta = json.loads((folder / "model.json").read_text())
    assert meta["architecture"]["type"] == ARCH_TYPE
    assert meta["style_images"][0]["file"] == "style.png"
    assert meta["train_settings"]["steps"] == 3
    assert any("step 3/3" in m and "ETA" in m for m in messages)
    model = load_model(str(folder), device="cpu")
    assert model.generator.arch == meta["architecture"]
    # The painting's detail patches travel with the model (zero mean, unit spread).
    assert abs(float(model.generator.mark_bank.std()) - 1.0) < 1e-3
    # So do the variances its norms saw in training, the scale of their floor.
    typical = [m.typical_var for m in model.generator.modules() if getattr(m, "floor", 0)]
    assert typical and all(bool((t > 0).all()) for t in typical)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    again = train_style([style_path], [content_path], None, settings)
    assert again == folder and (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_cancel_raises_and_writes_nothing(images, tmp_path):
    style_path, content_path = images
    cancel = threading.Event()
    out = tmp_path / "model"

    def progress(fraction: float, phase: str, message: str) -> None:
        if "step" in message:
            cancel.set()  # cancel as soon as the first step reports

    with pytest.raises(Cancelled):
        train_style([style_path], [content_path], out, TrainSettings(steps=50, **TINY),
                    progress=progress, cancel=cancel)
    assert not out.exists()
    assert not any(p.name.startswith(".model") for p in tmp_path.iterdir())


def test_bad_style_and_content_paths_name_the_file(images, tmp_path):
    style_path, content_path = images
    missing = tmp_path / "no_such_style.jpg"
    with pytest.raises(BadInput, match=r"no_such_style\.jpg"):
        train_style([missing], [content_path], tmp_path / "m", TrainSettings(steps=1, **TINY))
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"not an image at all")
    with pytest.raises(BadInput, match=r"broken\.png"):
        train_style([style_path], [corrupt], tmp_path / "m", TrainSettings(steps=1, **TINY))
    assert not (tmp_path / "m").exists()


def test_patch_distance_sees_strokes_not_position(images):
    style = load_rgb(images[0])[None]
    content = load_rgb(images[1])[None]
    gen = torch.Generator().manual_seed(0)
    shifted = torch.roll(style, shifts=(7, 11), dims=(2, 3))
    same = float(losses.StylePatches([style], gen).distance(shifted, gen))
    other = float(losses.StylePatches([style], gen).distance(content, gen))
    assert same < 0.1 * other


def test_neighbour_distance_wants_the_paintings_marks_not_its_colours_as_noise(images):
    """Per-pixel noise in the painting's colours (what the sliced term settled for, optimised
    on pixels) and its marks blurred both cost far more than its marks moved; the gradient
    reaches the output."""
    style = load_rgb(images[0])[None]
    gen = torch.Generator().manual_seed(0)
    neighbours = losses.StyleNeighbours([style], gen)
    # By whole cells of the coarsest octave: its patches then line up with the bank's.
    shifted = torch.roll(style, shifts=(8, 12), dims=(2, 3))
    order = torch.randperm(64 * 64, generator=gen)
    shuffled = style.flatten(2)[..., order].view_as(style)
    blurred = losses.gaussian_blur(style, 3.0)
    same = float(neighbours.distance(shifted, gen))
    assert same < 0.1 * float(neighbours.distance(shuffled, gen))
    assert same < 0.1 * float(neighbours.distance(blurred, gen))
    output = shuffled.clone().requires_grad_(True)
    neighbours.distance(output, gen).backward()
    assert output.grad is not None and output.grad.abs().sum() > 0


def test_detail_term_wants_the_paintings_marks_on_any_ground(images):
    """The painting's detail laid over a flat grey costs a fraction of the grey alone and of
    white noise of the detail's spread on it: the term asks for the marks themselves, in
    whatever colours the output has under them."""
    style = load_rgb(images[0])[None]
    gen = torch.Generator().manual_seed(0)
    details = losses.StylePatches([losses.detail_band(style, 4.0)], gen, 5, 2)
    ground = torch.full_like(style, 0.5)
    marks = losses.detail_band(torch.roll(style, shifts=(8, 12), dims=(2, 3)), 4.0)
    noise = torch.randn(style.shape, generator=gen) * float(marks.std())

    def distance(x: torch.Tensor) -> float:
        return float(details.distance(losses.detail_band(x, 4.0), gen))

    marked = distance(ground + marks)
    assert marked < 0.2 * distance(ground) and marked < 0.5 * distance(ground + noise)


def test_structure_loss_ignores_tone_and_sees_moved_edges(images):
    content = load_rgb(images[1])[None]
    recoloured = (0.4 * content.flip(1) + 0.3).clamp(0, 1)  # other palette, same layout
    moved = content.flip(3)
    assert float(losses.structure_loss(recoloured, content)) < 0.2
    assert float(losses.structure_loss(moved, content)) > 0.5


def test_default_arch_warm_starts_from_the_shipped_base_generator():
    from core.store import BASE_DIR, load_model
    from core.training.trainer import _initial_generator

    base = load_model(str(BASE_DIR), device="cpu").generator
    warm = _initial_generator(TrainSettings())
    for (k, a), b in zip(warm.state_dict().items(), base.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert warm is not base  # a copy: training never changes the shipped base
    assert not _initial_generator(TrainSettings(warm_start=False)).head.weight.any()
    tiny = _initial_generator(TrainSettings(**TINY))  # another arch: a fresh identity
    assert tiny.arch["width"] == 8 and not tiny.head.weight.any()


def test_balanced_effort_is_the_training_default():
    """The add-on's Balanced effort trains like ``python -m core train`` and the shipped styles."""
    steps, size, _budget = EFFORT["BALANCED"]
    assert (steps, size) == (TrainSettings().steps, TrainSettings().size)


def test_jittered_crops_of_a_large_image_keep_their_scale():
    """Crops are cut from a window and resampled alone, at 2^+-jitter of native scale."""
    ramp = torch.linspace(0, 1, 1536).expand(3, 1024, 1536).contiguous()
    sampler = CropSampler([ramp], 64, torch.Generator().manual_seed(0), scale_jitter=0.25,
                          rotate=False)
    native = 1 / 1535
    slopes = []
    for _ in range(40):
        row = sampler.batch(1)[0, 0, 32]
        slopes.append(abs(float(row[48] - row[16])) / 32 / native)
    assert all(2 ** -0.26 < s < 2 ** 0.26 for s in slopes)
    assert max(slopes) / min(slopes) > 1.2  # jittered, not one scale


def test_a_large_painting_is_trained_at_the_shipped_paintings_size():
    """A big scan comes down to ``PAINTING_MAX_SIDE``; a web-sized painting stays as is."""
    scan = torch.rand(3, 2400, 3000)
    fitted = fit_painting(scan)
    assert fitted.shape == (3, round(2400 * PAINTING_MAX_SIDE / 3000), PAINTING_MAX_SIDE)
    small = torch.rand(3, 400, 500)
    assert fit_painting(small) is small
    assert fit_painting(small, 2.0).shape == (3, 800, 1000)


def test_content_crops_are_retoned_lighter_and_darker_half_the_time():
    """Tone jitter shows a model near-white and dark versions of its few textures."""
    grey = torch.full((3, 64, 64), 0.5)
    sampler = CropSampler([grey], 32, torch.Generator().manual_seed(0), rotate=False,
                          tone_jitter=True)
    means = [float(sampler.batch(1).mean()) for _ in range(60)]
    untouched = sum(abs(m - 0.5) < 1e-6 for m in means)
    assert 15 <= untouched <= 45
    assert min(means) < 0.45 and max(means) > 0.6
    assert all(0.0 <= m <= 1.0 for m in means)


def test_content_crops_are_cut_out_on_a_flat_ground_a_fifth_of_the_time():
    """Cut-outs show a model textured islands on flat padding, where halos form."""
    texture = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(1)) * 0.5 + 0.25
    sampler = CropSampler([texture], 32, torch.Generator().manual_seed(0), rotate=False,
                          cut_out=0.2)
    crops, grounds = sampler.batch_with_grounds(200)
    # A ground is one exact colour over much of the crop; the random texture never is.
    flat = [int(torch.unique(c[0], return_counts=True)[1].max()) > 0.1 * 32 * 32
            for c in crops]
    assert 25 <= sum(flat) <= 60
    # Each crop says where its ground is (the ground term's mask): exactly there.
    assert [bool(g.any()) for g in grounds] == flat
    for crop, ground in zip(crops, grounds, strict=True):
        if ground.any():
            on = crop[:, ground[0] > 0]
            assert float((on - on[:, :1]).abs().max()) == 0.0
