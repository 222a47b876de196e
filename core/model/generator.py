"""The feed-forward stylizer network, shaped for CPU speed and free of lattices.

Almost all compute runs at 1/4 and 1/8 of the input resolution: the image is
blurred, folded into channels by space-to-depth (``pixel_unshuffle``) and
processed by small residual blocks. The output is the input plus three residuals,
one per resolution: a full-resolution one from three small convs on the input's
own pixels (grain, edges, fine marks), and one from each of the 1/4 and 1/8
levels, brought up by bilinear interpolation and added. The coarse residuals
run through nothing nonlinear after their upsampling: a bilinear x4 (x8) step is
a triangle filter whose spectrum is zero at the period-4 (period-8) lattice
frequencies, but a ReLU or a norm applied to its piecewise-linear output turns
the grid's kinks into exactly that lattice (the previous generator painted a
period-8 grid over a check pattern this way). Added linearly, the coarse
residuals cannot. The 1/4 residual is also smoothed by a [1, 2, 1] binomial
before its upsampling, which zeroes its own grid's Nyquist frequency: a fine
weave near period 8 px, aliased in the 1/4 path and then amplified, would
otherwise come back as a period-8 lattice. With both, neither coarse residual
can hold any energy at the period-4 or period-8 lattice frequencies. An
untrained network (zero heads) is the identity until its painting's marks are set.

Marks on flat ground: a network of convolutions maps flat ground to flat ground, so
a plain painted area (a ball, a wall, the white around a cut-out) could only change
colour. Two inputs keyed to each pixel's place in the source image (``noise``: the
same pixel gets the same values in every tile, across a seamless border and in every
run) change that: noise channels for the 1/4 stem, and brush-stroke streaks
(``strokes``, faded where the texture has detail of its own: ``gated_strokes``, and over
its finest grain: ``grain_streaks``) for the full-resolution convs. (Smooth coarse
fields fed to those convs gave hard-edged marks, but their ReLUs turned the bilinear
kinks into a lattice again: 1.9x the input's on a JPEG oak.) Those convs also read the
painting's own marks (``marks``: patches of its strokes, cut when the style is trained
and stored with the model, laid down by position and turned along the texture's flow;
``exemplar.py``), faded like the streaks (``strokes.grain_fade``). They are added to the
output straight, at a fixed share of the painting's own contrast (``mark_gain``), and
nothing learned reads them: given the chance, training learned to cancel them
(restyle-gen10's smaller marks were read by the convs and added through a learned 1x1
conv).
Streaks and marks are noise: they hold energy at every frequency, and over a texture
with little fine detail across its grain that alone lifted the lattice peak 1.5-2.2x
(by chance of where the marks fell). So the whole residual is notched at the lattice
frequencies (``lattice.point_notch``), after the clip to 0..1 at inference.
Every norm is a ``TileNorm`` so tiled inference can share one image's statistics, and
each has a variance floor (``norm_floor``): unfloored, the coarse levels amplified a
near-featureless texture's faint shading into bands it never had.

Every 3x3 conv reads a mirror of its input beyond the edges (``padding="reflect"``):
with zeros each conv saw a dark frame, which the tiler had to hide under a mirrored
border a whole context wide, 1.45x the work of a 1024 px image.

Networks are picked by name from ``GENERATORS`` (``build_generator``); every
entry declares ``multiple`` (its input side must be a multiple of it), ``context``
(its receptive radius in pixels), which tiling needs to be seamless, and ``border``
(the mirrored image it needs beyond the edges: none, or for zero padding ``context``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from .blur import binomial, upsample
from .exemplar import BROAD, FINE, STRAIGHT_SHARE, TURNED, patch_marks, turned_patches
from .ground import COARSE_REACH, settle_ground
from .ground import RADIUS as GROUND_RADIUS
from .lattice import POINT_NOTCH_RADIUS, point_notch
from .noise import Coords, grid_coords, position_noise
from .norm import FLOOR as NORM_FLOOR
from .norm import TileNorm
from .strokes import (
    GRAIN_FLOOR,
    GRAIN_RADIUS,
    STREAKS,
    STROKE_RADIUS,
    flow_reach,
    flow_turns,
    grain_fade,
    stroke_field,
)

ARCH_TYPE = "restyle-gen14"
#: The type whose streaks did not fade over the finest grain, and whose broad marks kept
#: ``QUARTER_FLOOR`` of their strength there.
UNFADED_STREAKS_TYPE = "restyle-gen13"
#: The share of their strength restyle-gen12 and 13's broad marks kept over the finest grain.
QUARTER_FLOOR = 0.25
#: The type whose norms had no variance floor (plain instance norm).
UNFLOORED_TYPE = "restyle-gen12"
#: The type whose broad marks kept half their strength over the finest grain.
HALF_FADE_TYPE = "restyle-gen11"
#: The type whose turned marks were cut in 32 px windows and laid straight only as learned.
NARROW_TYPE = "restyle-gen10"
#: The type whose marks were the painting's finest detail, laid as cut (``exemplar.FINE``).
UNTURNED_TYPE = "restyle-gen9"
#: The type whose residual was not notched at the lattice frequencies.
UNNOTCHED_TYPE = "restyle-gen8"
#: The type before the painting's own marks: the same network without, so its files load.
MARKLESS_TYPE = "restyle-gen7"
#: The type whose convs padded with zeros (the tiler mirrors a border for it).
ZERO_PADDED_TYPE = "restyle-gen6"
#: The type whose streaks did not fade over the texture's own detail; its files load so.
UNGATED_TYPE = "restyle-gen5"
#: The type before noise channels: the same network with none, so its files still load.
NOISELESS_TYPE = "restyle-gen4"
#: Generator types older releases wrote; their files need retraining.
RETIRED_TYPES = ("restyle-gen", "restyle-gen2", "restyle-gen3")
#: How a generator's 3x3 convs pad (``architecture.padding``): with a mirror of their
#: input, or (``restyle-gen6`` and older) with zeros.
MIRROR, ZEROS = "reflect", "zeros"
PADDINGS = (MIRROR, ZEROS)


def mirror_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """``x`` with ``pad`` mirrored pixels (the edge not repeated) on every side, in its own
    memory layout: at inference torch's reflection pad took 2.7x a copy's time on
    channels-last input. In training torch's pad runs instead: autograd would copy a whole
    gradient for each slice written here (base runs took 490-510 s so, 290-350 s without)."""
    if torch.is_grad_enabled():
        return F.pad(x, (pad, pad, pad, pad), mode="reflect")
    n, c, h, w = x.shape
    layout = (torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
              else torch.contiguous_format)
    out = torch.empty((n, c, h + 2 * pad, w + 2 * pad), dtype=x.dtype, device=x.device,
                      memory_format=layout)
    out[:, :, pad : pad + h, pad : pad + w] = x
    for i in range(pad):
        out[:, :, pad - 1 - i, pad : pad + w] = x[:, :, i + 1]
        out[:, :, pad + h + i, pad : pad + w] = x[:, :, h - 2 - i]
    for i in range(pad):  # the columns from the rows just padded: the corners too
        out[:, :, :, pad - 1 - i] = out[:, :, :, pad + i + 1]
        out[:, :, :, pad + w + i] = out[:, :, :, pad + w - 2 - i]
    return out


class _MirrorConv(nn.Conv2d):
    """A conv that reads a mirror of its input beyond the edges, not zeros: no dark
    frame at the image's edges to hide (the same weights and state as ``nn.Conv2d``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(mirror_pad(x, self.kernel_size[0] // 2), self.weight, self.bias,
                        self.stride)


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1,
          mirrored: bool = False) -> nn.Conv2d:
    """A k x k conv padded with a mirror of its input, or with zeros."""
    if mirrored:
        return _MirrorConv(cin, cout, k, stride=stride)
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


class _ConvNorm(nn.Sequential):
    """conv, TileNorm, ReLU: the unit every low-resolution stage is made of."""

    def __init__(self, cin: int, cout: int, stride: int = 1, mirrored: bool = False,
                 floor: float = 0.0) -> None:
        super().__init__(_conv(cin, cout, 3, stride, mirrored), TileNorm(cout, floor=floor),
                         nn.ReLU(inplace=True))


class _ResBlock(nn.Module):
    """Two 3x3 convs with a skip: depth (receptive field) without losing the signal."""

    def __init__(self, channels: int, mirrored: bool = False, floor: float = 0.0) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(channels, channels, mirrored=mirrored), TileNorm(channels, floor=floor),
            nn.ReLU(inplace=True),
            _conv(channels, channels, mirrored=mirrored), TileNorm(channels, floor=floor),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).add_(x)


def _coords_of(x: torch.Tensor, coords: Coords | None) -> Coords:
    """``coords`` on ``x``'s device; by default those of the image's top-left crop."""
    rows, cols = coords or grid_coords(len(x), *x.shape[2:])
    return rows.to(x.device), cols.to(x.device)


class _LowPass(nn.Module):
    """Fixed Gaussian blur (sigma 3 px) of the RGB input before the 1/4-resolution path.

    Space-to-depth keeps every pixel, so without it the coarse path sees detail finer
    than its 4 px grid aliased; mixed back with the sharp full-resolution input, an
    aliased pattern (a fine check, a weave) beats against the grid into a period-4/8
    lattice. Blurred first, the coarse path carries only what its grid can hold.
    """

    radius = 9

    def __init__(self, sigma: float = 3.0) -> None:
        super().__init__()
        t = torch.arange(-self.radius, self.radius + 1, dtype=torch.float32)
        k = torch.exp(-(t**2) / (2 * sigma**2))
        self.register_buffer("kernel", (k / k.sum()).repeat(3, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Always fp32: three channels cost nothing, and oneDNN's bf16 channels-last
        # depthwise 1x19 conv never returns (torch 2.13 on an AVX512-BF16 Xeon).
        with torch.autocast(x.device.type, enabled=False):
            r = self.radius
            x = F.pad(x.float(), (r, r, r, r), mode="replicate")
            x = F.conv2d(x, self.kernel.view(3, 1, 1, -1), groups=3)
            return F.conv2d(x, self.kernel.view(3, 1, -1, 1), groups=3)


class Generator(nn.Module):
    """Image (N,3,H,W in [0,1]) to stylized image of the same size; H, W multiples of
    ``multiple`` (8, or with the painting's marks their grid's cell)."""

    def __init__(
        self, width: int = 64, deep_width: int = 80, blocks: int = 3, fine: int = 16,
        noise: int = 8, strokes: bool = True, gated_strokes: bool = True,
        padding: str = MIRROR, marks: int = 32, notched: bool = True, turned: bool = True,
        broad: bool = True, grain_floor: float = GRAIN_FLOOR, norm_floor: float = NORM_FLOOR,
        grain_streaks: bool = True,
    ) -> None:
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f"padding {padding!r} is not one of {', '.join(PADDINGS)}")
        mirrored = padding == MIRROR
        self.arch = {"type": ARCH_TYPE, "width": width, "deep_width": deep_width,
                     "blocks": blocks, "fine": fine, "noise": noise, "strokes": strokes,
                     "gated_strokes": gated_strokes, "padding": padding, "marks": marks,
                     "notched": notched, "turned": turned, "broad": broad,
                     "grain_floor": grain_floor, "norm_floor": norm_floor,
                     "grain_streaks": grain_streaks}
        self.noise, self.strokes, self.gated_strokes = noise, strokes, gated_strokes
        self.notched, self.grain_floor, self.grain_streaks = notched, grain_floor, grain_streaks
        self.marks = marks if strokes else 0  # the marks fade with the streaks' gate
        self.layout = BROAD if broad else TURNED if turned else FINE
        self.multiple = self.layout.cell if self.marks else 8
        # Receptive radius in input pixels: the input blur and the space-to-depth block,
        # then each 3x3 conv at 1/s resolution reaches s pixels (stem, down, two per
        # block at 1/8) and the x8 bilinear step 8 more. The 1/4 level (stem, one
        # block, head, binomial: 20 + 4) and the full-resolution convs (3) reach less;
        # the stroke field reaches ``STROKE_RADIUS``, the grain's fade ``GRAIN_RADIUS``.
        # The residual's notch reads ``POINT_NOTCH_RADIUS`` beyond all of them.
        # ``settle_ground`` reads the coarse residual ``COARSE_REACH`` further, and the
        # input ``GROUND_RADIUS`` far.
        coarse_radius = _LowPass.radius + 4 + 4 + 8 * (1 + 2 * blocks) + 8
        radius = max(coarse_radius + COARSE_REACH, GROUND_RADIUS, STROKE_RADIUS, GRAIN_RADIUS,
                     flow_reach(self.layout.cell) if turned and self.marks else 0)
        radius += POINT_NOTCH_RADIUS * notched
        self.context = -(-radius // self.multiple) * self.multiple
        self.border = 0 if mirrored else self.context
        self.low_pass = _LowPass()
        floor = norm_floor
        self.stem = _ConvNorm(3 * 16 + noise, width, mirrored=mirrored, floor=floor)  # at 1/4
        self.quarter = _ResBlock(width, mirrored, floor)
        self.quarter_head = _conv(width, 3, mirrored=mirrored)  # the 1/4 RGB residual
        self.down = _ConvNorm(width, deep_width, stride=2, mirrored=mirrored, floor=floor)
        self.blocks = nn.Sequential(*[_ResBlock(deep_width, mirrored, floor)
                                      for _ in range(blocks)])
        self.deep_head = nn.Conv2d(deep_width, 3, 1)  # the 1/8 RGB residual
        if self.marks:  # the painting's detail patches, set by training (``set_marks``)
            side = self.layout.patch
            self.register_buffer("mark_bank", torch.zeros(self.marks, 3, side, side))
            self._turned: torch.Tensor | None = None  # ``_turned_bank``'s
            # The painting's own contrast times ``STRAIGHT_SHARE``: the marks' fixed gain.
            if self.layout is BROAD:
                self.register_buffer("mark_gain", torch.zeros(()))
        # The input's own detail, the streaks and (but broad ones, which nothing learned may
        # see: the convs learned to cancel them) the painting's marks.
        self.marks_read = bool(self.marks) and self.layout is not BROAD
        self.skin = _conv(3 + STREAKS * strokes + 3 * self.marks_read, fine, mirrored=mirrored)
        self.sharpen = _conv(fine, fine, mirrored=mirrored)
        self.head = _conv(fine, 3, mirrored=mirrored)  # the full-resolution RGB residual
        # Turned marks also reach the output straight, in colours of the painting's choosing:
        # through the 3x3 convs alone a style took little of them. Broad marks are laid at
        # their fixed gain alone (``mark_gain``): a learned map learned to cancel them.
        self.mark_head = nn.Conv2d(3, 3, 1) if turned and self.marks_read else None
        heads = (self.quarter_head, self.deep_head, self.head, self.mark_head)
        for head in filter(None, heads):  # start as the identity
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, x: torch.Tensor, coords: Coords | None = None) -> torch.Tensor:
        """``coords`` key the noise (default: the input is the image's top-left crop)."""
        centred = x * 2.0 - 1.0
        coords = _coords_of(x, coords)
        stem, deep = self._coarse(centred, coords)
        planes, marks = self._planes(centred, coords)
        fine = self._fine(planes) if torch.is_grad_enabled() else self._fine_in_bands(planes)
        if marks is not None:  # broad marks, straight at their fixed gain
            fine = fine.add_(marks.to(fine.dtype), alpha=float(self.mark_gain))
        quarter = binomial(self.quarter_head(self.quarter(stem)))
        deep = self.deep_head(deep).float()
        coarse = upsample(quarter, 4).add_(upsample(deep, 8))
        # At inference only: in training's loop the network learned to paint its glow
        # beyond the step's reach (a new painting's halo +40%, see ``ground``).
        if not torch.is_grad_enabled():
            settled = settle_ground(x, coarse, quarter + upsample(deep, 2))
            if settled is not None:
                coarse += settled
        # Summed into the head's fresh output: no further full-resolution temporaries.
        residual = fine.add_(coarse)
        if not self.notched:
            return residual.add_(x)
        if not torch.is_grad_enabled():
            # The result is clamped to 0..1, and clipping adds energy at every frequency
            # (saturated checks: 1.3x the input's lattice). Notched after the clip, the
            # result only overshoots by the residual's own lattice band.
            residual = residual.add_(x).clamp_(0, 1).sub_(x)
        return point_notch(residual).add_(x)

    def set_marks(self, bank: torch.Tensor, contrast: float = 0.0) -> None:
        """Use ``bank`` (``exemplar.painting_patches``) as the painting's marks; broad ones are
        laid straight at ``STRAIGHT_SHARE`` of ``contrast``, the painting's own
        (``exemplar.painting_contrast``)."""
        self.mark_bank.copy_(bank)
        self._turned = None
        if hasattr(self, "mark_gain"):
            self.mark_gain.fill_(STRAIGHT_SHARE * contrast)

    def _planes(self, centred: torch.Tensor,
                coords: Coords) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the full-resolution convs read: the input and, with strokes, the streaks
        and (but broad ones) the painting's marks, both faded over the texture's own
        detail, and (``grain_streaks``) the streaks over its finest grain too. And the broad
        marks, so faded, which are laid straight (else None)."""
        if not self.strokes:
            return centred, None
        streaks, gate = stroke_field(centred, *coords, self.gated_strokes)
        broad_marks = bool(self.marks) and not self.marks_read
        fade = (grain_fade(centred, self.grain_floor) if self.grain_streaks or broad_marks
                else None)
        if self.grain_streaks:
            streaks.mul_(fade)
        if not self.marks:
            return torch.cat([centred, streaks], dim=1), None
        if self.layout.turns:
            turns = flow_turns(centred, *coords, self.layout.cell, self.layout.turns)
            marks = patch_marks(self._turned_bank(), *coords, self.layout, turns)
        else:
            marks = patch_marks(self.mark_bank.float(), *coords)
        marks.mul_(gate)
        if broad_marks:  # they also fade over the texture's finest grain
            return torch.cat([centred, streaks], dim=1), marks.mul_(fade)
        return torch.cat([centred, streaks, marks.to(centred.dtype)], dim=1), None

    def _turned_bank(self) -> torch.Tensor:
        """``turned_patches`` of the bank; at inference kept (every tile of an image turned
        the same bank again, 9 ms each) until the bank is set, loaded, moved or cast."""
        if torch.is_grad_enabled():
            return turned_patches(self.mark_bank.float(), self.layout)
        if self._turned is None:
            self._turned = turned_patches(self.mark_bank.float(), self.layout)
        return self._turned

    def _load_from_state_dict(self, *args: object, **kwargs: object) -> None:
        self._turned = None  # the bank is about to be overwritten in place
        super()._load_from_state_dict(*args, **kwargs)

    def _apply(self, fn: Callable[..., object], recurse: bool = True) -> nn.Module:
        self._turned = None  # ``to`` and its kin are about to replace the bank
        return super()._apply(fn, recurse)

    def _coarse(self, centred: torch.Tensor, coords: Coords) -> tuple[torch.Tensor, torch.Tensor]:
        """The 1/4 stem and the 1/8 blocks' output."""
        folded = F.pixel_unshuffle(self.low_pass(centred), 4)
        if self.noise:
            rows, cols = coords
            # One noise value per 4x4 block, keyed to the block's top-left source pixel.
            noise = position_noise(rows[:, ::4], cols[:, ::4], self.noise)
            folded = torch.cat([folded, noise.to(folded.dtype)], dim=1)
        # The concatenation's layout is the noise's, plain: every 1/4 and 1/8 conv then ran
        # plain too, 1.1-1.4x as long as on channels-last (oneDNN's fast layout).
        stem = self.stem(folded.contiguous(memory_format=torch.channels_last))
        return stem, self.blocks(self.down(stem))

    def statistics_pass(self, x: torch.Tensor, coords: Coords | None = None) -> None:
        """Run every norm on ``x`` and nothing else (``shared_statistics``): the norms
        all sit on the 1/4 and 1/8 levels, so the full-resolution path and the heads,
        most of an 8192^2 texture's statistics pass in time and memory, are skipped."""
        coords = _coords_of(x, coords)
        stem, _ = self._coarse(x * 2.0 - 1.0, coords)
        self.quarter(stem)

    def _fine(self, planes: torch.Tensor) -> torch.Tensor:
        """The full-resolution residual: three 3x3 convs on the input's own pixels, the
        stroke streaks and the painting's marks (``planes``), and the turned marks
        straight through their learned map (restyle-gen10)."""
        fine = self.head(F.relu_(self.sharpen(F.relu_(self.skin(planes)))))
        if self.mark_head is None:
            return fine
        marks = planes[:, -3:]
        if torch.is_grad_enabled():  # as the shipped styles were trained
            return fine.add_(self.mark_head(marks))
        # At inference the 1x1 conv as a product over channels: torch's conv on this
        # slice of channels-last planes took 35x as long (the same numbers to 1e-7).
        weight = self.mark_head.weight[:, :, 0, 0].to(marks.dtype)
        straight = torch.einsum("nchw,oc->nohw", marks, weight)
        return fine.add_(straight).add_(self.mark_head.bias.view(1, -1, 1, 1))

    def _fine_in_bands(self, planes: torch.Tensor) -> torch.Tensor:
        """``_fine`` a band of rows at a time, each with its own halo, for inference.

        The same numbers: each output row needs only ``FINE_HALO`` input rows either
        side. A band's 16-channel intermediates stay in the CPU cache, where the whole
        image's (100-300 MB each) went through memory several times, which took longer
        than the arithmetic (1.7x faster on a 1240 px tile).
        """
        height = planes.shape[2]
        if height <= 2 * FINE_BAND:
            return self._fine(planes)
        out = planes.new_empty((len(planes), 3, *planes.shape[2:]))
        out = out.contiguous(memory_format=torch.channels_last)
        for top in range(0, height, FINE_BAND):
            bottom = min(top + FINE_BAND, height)
            lo, hi = max(0, top - FINE_HALO), min(height, bottom + FINE_HALO)
            out[:, :, top:bottom] = self._fine(planes[:, :, lo:hi])[:, :, top - lo : bottom - lo]
        return out


#: Rows of a band of ``Generator._fine_in_bands``, and the rows each band reads beyond its
#: own: one per 3x3 conv of the full-resolution path. 128 rows: the fine path at 1024^2
#: took 69-76 ms, against 78-85 ms with 64 (fewer halo rows and calls).
FINE_BAND = 128
FINE_HALO = 3

#: A generator before ``restyle-gen14``: its streaks do not fade over the finest grain.
_Gen13 = partial(Generator, grain_floor=QUARTER_FLOOR, grain_streaks=False)
#: A generator before ``restyle-gen13``: its norms have no variance floor either.
_Unfloored = partial(_Gen13, norm_floor=0.0)

#: Every generator type by the name model.json stores in ``architecture.type``.
GENERATORS: dict[str, Callable[..., nn.Module]] = {
    ARCH_TYPE: Generator,
    UNFADED_STREAKS_TYPE: _Gen13,
    UNFLOORED_TYPE: _Unfloored,
    HALF_FADE_TYPE: partial(_Unfloored, grain_floor=0.5),
    NARROW_TYPE: partial(_Unfloored, broad=False),
    UNTURNED_TYPE: partial(_Unfloored, turned=False, broad=False),
    UNNOTCHED_TYPE: partial(_Unfloored, notched=False, turned=False, broad=False),
    MARKLESS_TYPE: partial(_Unfloored, marks=0, notched=False, turned=False, broad=False),
    ZERO_PADDED_TYPE: partial(_Unfloored, padding=ZEROS, marks=0, notched=False, turned=False,
                              broad=False),
    UNGATED_TYPE: partial(_Unfloored, gated_strokes=False, padding=ZEROS, marks=0,
                          notched=False, turned=False, broad=False),
    NOISELESS_TYPE: partial(_Unfloored, noise=0, strokes=False, padding=ZEROS, marks=0,
                            notched=False, turned=False, broad=False),
}


def build_generator(**arch: object) -> nn.Module:
    """Rebuild a generator from its ``arch`` dict (as stored in model.json); none = default.

    Raises ``ValueError`` naming the problem for an unknown or retired type and for
    arguments the type does not take.
    """
    kwargs = {k: v for k, v in arch.items() if k != "type"}
    kind = str(arch.get("type", ARCH_TYPE))
    if kind in RETIRED_TYPES:
        raise ValueError(f"generator type {kind!r} is from an older Restyle; retrain the style")
    if kind not in GENERATORS:
        raise ValueError(f"unknown generator type {kind!r}; known: {', '.join(GENERATORS)}")
    try:
        return GENERATORS[kind](**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad arguments for generator {kind!r}: {exc}") from exc
