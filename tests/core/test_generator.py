"""The generator's contract: shape, size multiple, context radius, the registry."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from core.model.blur import gaussian_blur
from core.model.exemplar import STRAIGHT_SHARE
from core.model.generator import (
    ARCH_TYPE,
    FINE_BAND,
    HALF_FADE_TYPE,
    MARKLESS_TYPE,
    NARROW_TYPE,
    UNFADED_STREAKS_TYPE,
    UNFLOORED_TYPE,
    UNNOTCHED_TYPE,
    UNTURNED_TYPE,
    ZERO_PADDED_TYPE,
    Generator,
    build_generator,
    mirror_pad,
)
from core.model.norm import FLOOR, TYPICAL_MOMENTUM, TileNorm, shared_statistics
from core.model.strokes import GRAIN_FLOOR, STREAKS
from core.store import list_styles, load_model

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from metrics import lattice_ratio
from tiny_models import with_typical_variances


def _random_generator(seed: int = 0, kind: str = ARCH_TYPE) -> Generator:
    """A generator with non-trivial weights (the real init starts as the identity)."""
    torch.manual_seed(seed)
    g = build_generator(type=kind, width=16, deep_width=32, blocks=2)
    for p in g.parameters():
        p.data.normal_(0.0, 0.2)
    g.set_marks(torch.randn_like(g.mark_bank), contrast=0.05)
    return with_typical_variances(g).eval()


def test_arch_rebuilds_and_is_json():
    g = build_generator(width=16, deep_width=24, blocks=1)
    arch = json.loads(json.dumps(g.arch))
    assert arch["type"] == ARCH_TYPE
    again = build_generator(**arch)
    assert again.arch == g.arch
    assert [p.shape for p in again.parameters()] == [p.shape for p in g.parameters()]


def test_shape_multiple_and_identity_start():
    g = build_generator(width=16, deep_width=32, blocks=1).eval()
    assert g.multiple == g.layout.cell == 32
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        y = g(x)
    assert y.shape == x.shape
    assert torch.allclose(y, x)  # zero-initialised head: an untrained model changes nothing


def test_every_norm_is_tilenorm_and_no_transposed_convs():
    g = build_generator()
    assert any(isinstance(m, TileNorm) for m in g.modules())
    bad = (torch.nn.InstanceNorm2d, torch.nn.BatchNorm2d, torch.nn.ConvTranspose2d)
    assert not any(isinstance(m, bad) for m in g.modules())


def test_context_covers_receptive_field():
    """A pixel's output changes only when inputs within ``context`` pixels change."""
    g = _random_generator()
    size = 2 * g.context + 64
    first_changed = g.context + 40
    x = torch.rand(1, 3, size, size)
    changed = x.clone()
    changed[..., first_changed:] = torch.rand(1, 3, size, size - first_changed)
    # Instance-norm statistics are global by design; share them so only locality is tested.
    with shared_statistics(g, x), torch.no_grad():
        a, b = g(x), g(changed)
    unaffected = first_changed - g.context
    assert torch.allclose(a[..., :unaffected], b[..., :unaffected], atol=1e-5)
    assert not torch.allclose(a[..., first_changed:], b[..., first_changed:], atol=1e-3)


def test_registry_names_unknown_and_retired_types():
    with pytest.raises(ValueError, match="older Restyle"):
        build_generator(type="restyle-gen")
    with pytest.raises(ValueError, match="unknown generator type 'nope'"):
        build_generator(type="nope")
    with pytest.raises(ValueError, match="bad arguments"):
        build_generator(type=ARCH_TYPE, colours=7)
    with pytest.raises(ValueError, match="padding 'wrap' is not one of"):
        build_generator(padding="wrap")


def test_mirror_equals_torch_reflection_pad_in_either_layout():
    """At inference the hand-made pad runs (in training it is torch's own)."""
    x = torch.rand(2, 5, 9, 11)
    with torch.no_grad():
        for layout in (torch.contiguous_format, torch.channels_last):
            y = x.contiguous(memory_format=layout)
            for pad in (1, 2):
                assert torch.equal(mirror_pad(y, pad), F.pad(x, (pad,) * 4, mode="reflect"))
            assert mirror_pad(y, 1).is_contiguous(memory_format=layout)


@pytest.mark.parametrize("kind", [ARCH_TYPE, ZERO_PADDED_TYPE])
def test_flat_input_stays_flat_to_the_edges_only_with_mirror_padding(kind):
    """Mirror-padded convs see no frame, so the tiler needs no border for them
    (``border`` 0); zero-padded ones darken or lighten the edges, and ask for one."""
    torch.manual_seed(5)
    g = build_generator(type=kind, width=16, deep_width=32, blocks=2, noise=0, strokes=False)
    for p in g.parameters():
        p.data.normal_(0.0, 0.2)
    x = torch.full((1, 3, 64, 64), 0.4)
    with torch.no_grad():
        spread = float(g.eval()(x).std(dim=(2, 3)).max())  # over the image, per channel
    if kind == ARCH_TYPE:
        assert spread < 1e-5 and g.border == 0
    else:
        assert spread > 1e-3 and g.border == g.context


def test_inference_in_bands_equals_training_forward():
    """Without autograd the full-resolution path runs in bands of rows: the same numbers
    (on a result inference's clip to 0..1 leaves alone)."""
    g = _random_generator(1)
    for head in (g.head, g.quarter_head, g.deep_head):
        head.weight.data.mul_(0.002)
        head.bias.data.mul_(0.002)
    x = torch.rand(1, 3, 2 * FINE_BAND + 24, 48) * 0.5 + 0.25
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        banded = g(x)
    with torch.enable_grad():
        whole = g(x)
    assert whole.requires_grad and not banded.requires_grad
    whole = whole.detach()
    assert float(whole.min()) > 0 and float(whole.max()) < 1
    assert float((whole - x).abs().max()) > 1e-3  # the heads paint something
    assert torch.allclose(banded, whole, rtol=1e-5, atol=1e-5)


def test_coarse_residuals_hold_no_lattice_energy():
    """With the full-resolution head silenced, what the 1/4 and 1/8 levels add to white
    noise has no peak at the period-4/8 lattice frequencies (the bilinear steps and the
    1/4 level's binomial zero them); without the binomial the 1/4 level's grid shows."""
    g = _random_generator(3)
    torch.nn.init.zeros_(g.head.weight)
    torch.nn.init.zeros_(g.head.bias)
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        residual = (g(x) - x)[0].permute(1, 2, 0).numpy()
    assert residual.std() > 0.01, "the coarse levels must add something"
    assert lattice_ratio(residual) < 1.5


def test_markless_files_rebuild_without_the_paintings_marks():
    """``restyle-gen7`` files load as they were trained: no bank, five planes read."""
    old = build_generator(type=MARKLESS_TYPE, width=8, deep_width=16, blocks=1)
    assert old.arch["marks"] == 0 and old.multiple == 8
    assert not hasattr(old, "mark_bank") and old.skin.in_channels == 5
    new = build_generator(width=8, deep_width=16, blocks=1)
    assert new.multiple == 32 and new.mark_bank.shape[-1] == 96  # read by nothing learned
    assert new.skin.in_channels == 5 and new.mark_head is None


def test_unturned_files_rebuild_with_the_fine_marks_laid_as_cut():
    """``restyle-gen9`` files load as they were trained: a bank of 64 px patches of the
    finest detail, read by the convs alone (no straight path)."""
    old = build_generator(type=UNTURNED_TYPE, width=8, deep_width=16, blocks=1)
    assert old.mark_bank.shape[-1] == 64 and old.mark_head is None
    narrow = build_generator(type=NARROW_TYPE, width=8, deep_width=16, blocks=1)
    assert narrow.mark_bank.shape[-1] == 48 and narrow.mark_head is not None
    assert narrow.multiple == 16 and not hasattr(narrow, "mark_gain")
    assert narrow.skin.in_channels == 5 + 3  # the convs read its marks


def test_broad_marks_are_laid_at_a_share_of_the_paintings_contrast():
    """Untrained, a ``restyle-gen11`` or later generator adds its marks to flat ground at
    ``STRAIGHT_SHARE`` of the painting's contrast, in training and at inference alike;
    a ``restyle-gen10`` one (the same network with the marks laid only as learned) adds
    nothing until trained."""
    torch.manual_seed(0)
    g = build_generator(width=8, deep_width=16, blocks=1)
    assert g.mark_bank.shape[-1] == 96
    # Smooth marks, unit spread: turning white noise (bilinear) would average it down.
    bank = gaussian_blur(torch.randn_like(g.mark_bank), 2.0)
    g.set_marks(bank / bank.std(), contrast=0.1)
    grey = torch.full((1, 3, 128, 128), 0.5)
    with torch.no_grad():
        added = g.eval()(grey) - grey
    assert abs(float(added.std()) - STRAIGHT_SHARE * 0.1) < 0.2 * STRAIGHT_SHARE * 0.1
    trained_as = g.train()(grey).detach() - grey
    assert torch.allclose(trained_as, added, atol=1e-4)
    narrow = build_generator(type=NARROW_TYPE, width=8, deep_width=16, blocks=1).eval()
    narrow.set_marks(torch.randn_like(narrow.mark_bank), contrast=0.1)
    with torch.no_grad():
        assert torch.allclose(narrow(grey), grey)


def test_a_new_or_loaded_bank_replaces_the_turned_one_kept_for_inference():
    """Inference keeps the turned bank between calls; setting, loading, moving or casting
    the bank must drop it, or later images would be painted with the old marks."""
    first, second = _random_generator(4), _random_generator(5)
    # Smooth: over fine grain (uniform noise) the broad marks fade to nothing.
    x = 0.5 + gaussian_blur(torch.rand(1, 3, 64, 64) - 0.5, 4.0)
    with torch.no_grad():
        expected = second(x)
        first(x)  # keeps first's turned bank
        first.load_state_dict(second.state_dict())
        assert torch.equal(first(x), expected)
        first.set_marks(torch.randn_like(first.mark_bank), contrast=0.05)
        assert not torch.allclose(first(x), expected, atol=1e-3)
        second.set_marks(first.mark_bank.clone(), contrast=0.05)
        assert torch.equal(first(x), second(x))
        second.load_state_dict(first.state_dict())
        for g in (first, second):  # every weight and the bank rounded, through ``to``'s kin
            g.half().float()
        assert torch.equal(first(x), second(x))


def test_half_fade_files_keep_half_their_marks_over_fine_grain():
    """``restyle-gen11`` files load as trained: their marks kept half their strength over
    the finest grain, where new ones keep ``GRAIN_FLOOR``; on flat ground both lay all."""
    old = build_generator(type=HALF_FADE_TYPE, width=8, deep_width=16, blocks=1).eval()
    new = build_generator(width=8, deep_width=16, blocks=1).eval()
    assert old.grain_floor == 0.5 and new.grain_floor == GRAIN_FLOOR < 0.5
    torch.manual_seed(0)
    bank = gaussian_blur(torch.randn_like(new.mark_bank), 2.0)
    for g in (old, new):
        g.set_marks(bank / bank.std(), contrast=0.1)
    rows = torch.arange(128).view(-1, 1) % 2
    grain = (0.5 + 0.05 * (2.0 * rows - 1)).expand(128, 128)  # brushed lines
    x = torch.full((1, 3, 128, 256), 0.5)
    x[:, :, :, 128:] = grain
    with torch.no_grad():
        added = [g(x) - x for g in (old, new)]
    flat = [float(a[..., 32:96, 16:96].std()) for a in added]
    assert flat[1] == pytest.approx(flat[0], rel=1e-4)
    smooth = [gaussian_blur(a, 2.0)[..., 32:96, 144:240].std() for a in added]
    assert float(smooth[1] / smooth[0]) == pytest.approx(GRAIN_FLOOR / 0.5, abs=0.1)


def test_streaks_fade_over_fine_grain_where_older_files_lay_them_whole():
    """Since ``restyle-gen14`` the streaks fade over a texture's finest grain as the broad
    marks do; ``restyle-gen13`` files load without that, as they were trained. On flat
    ground both lay the same streaks."""
    old = _random_generator(6, UNFADED_STREAKS_TYPE)
    new = _random_generator(6)
    assert not old.grain_streaks and new.grain_streaks
    rows = torch.arange(128).view(-1, 1) % 2
    x = torch.full((1, 3, 128, 256), 0.5)
    x[:, :, :, 128:] = (0.5 + 0.05 * (2.0 * rows - 1)).expand(128, 128)  # brushed lines

    def streaks_part(g: Generator) -> torch.Tensor:
        """What the streaks add: the output less that of the same net blind to them."""
        g.set_marks(g.mark_bank, contrast=0.0)
        blind = copy.deepcopy(g)
        blind.skin.weight.data[:, 3 : 3 + STREAKS] = 0.0  # after the input's RGB
        with torch.no_grad():
            return g(x) - blind(x)

    parts = [streaks_part(g) for g in (old, new)]
    flat = [float(p[..., 32:96, 16:96].std()) for p in parts]
    assert flat[0] > 0.01 and flat[1] == pytest.approx(flat[0], rel=1e-4)
    lines = [float(p[..., 32:96, 160:240].std()) for p in parts]
    assert lines[0] > 0.01 and lines[1] < 0.1 * lines[0]


def test_a_floored_norm_keeps_a_faint_input_faint():
    """Plain instance norm brings faint shading up to full contrast; with a floor faint
    shading stays faint and an ordinary input comes out nearly as before, the same in
    training and at inference (statistics measured in fp32 or bf16, or recorded and
    frozen)."""
    torch.manual_seed(0)
    plain, floored = TileNorm(4), TileNorm(4, floor=0.25)
    floored.typical_var.fill_(1.0)
    shading = torch.randn(1, 4, 32, 32)
    for contrast, low, high in ((0.05, 0.0, 0.15), (1.0, 0.85, 0.95)):
        x = shading * contrast
        trained = floored.eval()(x).detach()
        with torch.no_grad():
            measured, halved = floored(x), floored(x.bfloat16())
            with shared_statistics(floored, x):
                frozen = floored(x)
        assert torch.allclose(measured, trained, atol=1e-5)
        assert torch.allclose(frozen, trained, atol=1e-5)
        assert torch.allclose(halved.float(), trained, atol=3e-2)  # bf16 rounding of ~+-3
        assert low < float(trained.std() / plain(x).detach().std()) < high


def test_typical_variance_follows_training_batches_only():
    """The first training batch sets a norm's typical variance, later ones move it by
    ``TYPICAL_MOMENTUM``; inference (no gradients, or eval mode) leaves it alone."""
    torch.manual_seed(0)
    norm = TileNorm(2, floor=FLOOR).train()
    first, second = torch.randn(2, 2, 16, 16) * 2, torch.randn(2, 2, 16, 16) * 0.5
    norm(first)
    expected = first.var(dim=(2, 3), unbiased=False).mean(0)
    assert torch.allclose(norm.typical_var, expected)
    norm(second)
    expected = torch.lerp(expected, second.var(dim=(2, 3), unbiased=False).mean(0),
                          TYPICAL_MOMENTUM)
    assert torch.allclose(norm.typical_var, expected)
    with torch.no_grad():
        norm(first * 9)
    norm.eval()(first * 9)
    assert torch.allclose(norm.typical_var, expected)


SHIPPED = [s["name"] for s in list_styles() if s["source"] == "shipped"]


@pytest.mark.parametrize("style", SHIPPED)
def test_shipped_styles_keep_faint_shading_faint(style):
    """Broad, faint shading (a pale board's) comes out faint: the output's broad spread
    follows the input's contrast. The same weights without their norms' floor (plain
    instance norm) paint faint shading about twice as strongly, and ten times stronger
    shading hardly more strongly than faint. The broad marks, laid by position whatever
    the shading (on this smooth field at full strength), are left out."""
    torch.manual_seed(0)
    field = gaussian_blur(torch.randn(1, 1, 256, 256), 12.0)
    field = (field / field.std()).expand(1, 3, -1, -1)
    # The loaded model is shared (memoised): changed only in copies.
    floored = copy.deepcopy(load_model(style, device="cpu").generator)
    floored.mark_gain.fill_(0.0)
    plain = copy.deepcopy(floored)
    for norm in (m for m in plain.modules() if isinstance(m, TileNorm)):
        norm.floor = 0.0

    def broad_spread(generator: Generator, contrast: float) -> float:
        with torch.no_grad():
            out = generator(0.5 + contrast * field).mean(1, keepdim=True)
        return float(gaussian_blur(out, 6.0)[..., 32:-32, 32:-32].std())

    faint, stronger = broad_spread(floored, 0.01), broad_spread(floored, 0.1)
    assert faint < 0.04 and stronger / faint > 2.8
    faint_plain, stronger_plain = broad_spread(plain, 0.01), broad_spread(plain, 0.1)
    assert faint_plain > 1.6 * faint and stronger_plain / faint_plain < 2.3


def test_unfloored_files_load_with_plain_norms():
    """``restyle-gen12`` files, which store no typical variances, load with plain instance
    norms as they were trained; what a fit of one saves rebuilds the same way."""
    old = build_generator(type=UNFLOORED_TYPE, width=8, deep_width=16, blocks=1)
    new = build_generator(width=8, deep_width=16, blocks=1)
    floors = [[m.floor for m in g.modules() if isinstance(m, TileNorm)] for g in (old, new)]
    assert floors[0] == [0.0] * len(floors[1]) and set(floors[1]) == {FLOOR}
    assert not any("typical_var" in key for key in old.state_dict())
    assert sum("typical_var" in key for key in new.state_dict()) == len(floors[1])
    again = build_generator(**json.loads(json.dumps(old.arch)))
    again.load_state_dict(old.state_dict())
    assert not any(m.floor for m in again.modules() if isinstance(m, TileNorm))


def test_residual_is_notched_at_the_lattice_frequencies():
    """What the generator adds (after the clip to 0..1) holds next to no power at the
    period-4/8 lattice frequencies; ``restyle-gen8`` files rebuild unnotched, as they were
    trained, and there the residual holds about as much there as anywhere."""
    g = _random_generator(4, UNTURNED_TYPE)
    old = build_generator(type=UNNOTCHED_TYPE, width=16, deep_width=32, blocks=2)
    old.load_state_dict(g.state_dict())
    side = 256
    x = torch.rand(1, 3, side, side)
    lattice = [(side // 4, 0), (0, side // 4), (side // 8, 0), (0, side // 8),
               (side // 4, side // 4), (side // 8, side // 8), (side // 8, -side // 8)]

    def lattice_share(gen: Generator) -> float:
        with torch.no_grad():
            residual = (gen.eval()(x) - x)[0]
        window = torch.outer(torch.hann_window(side), torch.hann_window(side))
        power = torch.fft.fft2((residual - residual.mean(dim=(1, 2), keepdim=True)) * window)
        power = power.abs().square()
        return float(torch.stack([power[:, r, c] for r, c in lattice]).mean() / power.mean())

    assert lattice_share(g) < 0.01
    assert lattice_share(old) > 0.3


def test_statistics_pass_records_what_the_whole_forward_records():
    """``shared_statistics`` runs only the norms' part; their statistics are the same."""
    g = _random_generator(2)
    x = torch.rand(2, 3, 64, 80)
    norms = [m for m in g.modules() if isinstance(m, TileNorm)]
    recorded = []
    for run in (g, g.statistics_pass):
        for norm in norms:
            norm.frozen, norm.recording = None, True
        with torch.no_grad():
            run(x)
        recorded.append([norm.frozen for norm in norms])
        for norm in norms:
            norm.frozen, norm.recording = None, False
    for (mean_a, var_a), (mean_b, var_b) in zip(*recorded, strict=True):
        assert torch.allclose(mean_a, mean_b) and torch.allclose(var_a, var_b)
