"""Run the generator over an image of any size in bounded memory, with no tile seams.

The image is cut into a grid of cores (multiples of the generator's stride).
Each tile is a core plus ``context`` pixels of real neighbouring image on every
side that has a neighbour, so every kept output pixel saw its whole receptive
field, exactly as in one untiled pass; neighbouring tiles also overlap by a
small feathered band, a guard against any residual difference. Beyond the
image's edges the generator's convs read a mirror of their input (an older,
zero-padded generator asks for the image mirrored a whole context wide: its
``border``); on a seamless axis the tile instead reads across the border
(circular padding), so the result wraps.
All ``TileNorm`` statistics are measured once (``shared_statistics``): on the
whole image, or beyond 1 MP on a batch of full-resolution crops spread over it,
so every tile is normalised alike. Images up to 1 MP run in one pass instead:
the statistics pass would need that memory anyway, and gives the same result.

Output rows are produced one strip of tiles at a time and written straight into
the output array in the input's own dtype (uint8 for an 8-bit texture), so an
8K texture needs a few strips of float32, never the whole image in float.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from itertools import pairwise
from typing import NamedTuple

import numpy as np
import torch

from ..model.noise import Coords
from ..model.norm import shared_statistics
from ..precision import Precision, resolve_precision
from ..progress import ProgressFn, check_cancel, report
from .allocator import reuse_freed_memory
from .imageio import from_float, to_float

#: Up to this many pixels the image runs in one pass: the statistics pass would need
#: that memory anyway, and its output is exactly what the tiles would give.
ONE_PASS_MAX_PIXELS = 1024 * 1024
#: Up to this many pixels norm statistics come from the whole image, else from crops.
WHOLE_STATS_MAX_PIXELS = 1024 * 1024
#: Default tile core: each tile also computes ``context`` pixels on every side, so
#: bigger cores waste less (about 1.25x the image's work at 1024, 1.8x at 512).
DEFAULT_TILE = 1024
#: Beyond this many pixels the image's own buffers (source and result) take most of
#: the memory, so cores are kept to LARGE_IMAGE_TILE: an 8K texture peaked at 961 MB
#: (with 512: 1074 MB, 10% faster).
LARGE_IMAGE_PIXELS = 4096 * 4096
LARGE_IMAGE_TILE = 448
STATS_CROP = 256
STATS_CROPS = 32  # at most; about STATS_SHARE of the image, at least 4 crops
STATS_SHARE = 0.08

#: finish(stylized, source) -> final, all float32 (h, w, 3): strength, colour keeping.
FinishFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

_locks: weakref.WeakKeyDictionary[torch.nn.Module, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def _model_lock(generator: torch.nn.Module) -> threading.Lock:
    """One run at a time per generator: shared statistics live in its norm layers."""
    with _locks_guard:
        return _locks.setdefault(generator, threading.Lock())


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def source_index(size: int, start: int, stop: int, circular: bool) -> np.ndarray:
    """Source rows (or columns) for padded coordinates ``start..stop``: wrap or mirror."""
    coords = np.arange(start, stop)
    if circular:
        return coords % size
    if size == 1:
        return np.zeros_like(coords)
    period = 2 * (size - 1)
    folded = coords % period
    return np.where(folded < size, folded, period - folded)


def is_tileable(rgb: np.ndarray) -> tuple[bool, bool]:
    """(rows wrap, columns wrap): is the jump across each opposite-edge pair no bigger
    than an ordinary step between neighbouring pixels inside the image?"""
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(rgb.dtype, 1.0)

    def wraps(image: np.ndarray) -> bool:  # along axis 0
        size = image.shape[0]
        if size < 8:
            return False
        rows = np.unique(np.linspace(0, size - 2, min(64, size - 1)).astype(int))
        step = max(1, image.shape[1] // 1024)  # a 1024-sample row is plenty
        pick = image[np.concatenate([rows, rows + 1, [0, size - 1]]), ::step]
        pick = pick.astype(np.float32) / scale
        count = len(rows)
        interior = np.abs(pick[:count] - pick[count : 2 * count]).mean()
        seam = np.abs(pick[-2] - pick[-1]).mean()
        return bool(seam <= 2.0 * interior + 1.0 / 255.0)

    return wraps(rgb), wraps(rgb.transpose(1, 0, 2))


def _cores(size: int, tile: int, multiple: int) -> list[tuple[int, int]]:
    """Split ``0..size`` into near-equal cores, each a multiple of ``multiple``."""
    units, per = size // multiple, max(1, tile // multiple)
    count = -(-units // per)
    bounds = [round(i * units / count) * multiple for i in range(count + 1)]
    return list(pairwise(bounds))


def _ramp(length: int, lo_band: int, hi_band: int) -> np.ndarray:
    """Feather weights over a kept range of ``length``: rising over the low band, falling
    over the high one; neighbouring tiles' ramps sum to exactly one."""
    weight = np.ones(length, np.float32)
    centres = np.arange(length, dtype=np.float32) + 0.5
    if lo_band:
        weight = np.minimum(weight, centres / (2 * lo_band))
    if hi_band:
        weight = np.minimum(weight, (length - centres) / (2 * hi_band))
    return weight


class _Tiler:
    """The geometry of one run: cores, margins, and where each tile reads from."""

    def __init__(self, rgb: np.ndarray, generator: torch.nn.Module, tile: int,
                 wrap: tuple[bool, bool]) -> None:
        self.rgb, self.wrap = rgb, wrap
        self.height, self.width = rgb.shape[:2]
        self.multiple = int(generator.multiple)  # every registered generator declares all three
        self.context = _round_up(int(generator.context), self.multiple)
        self.band = self.multiple * max(1, 8 // self.multiple)
        self.large = self.height * self.width > LARGE_IMAGE_PIXELS
        if self.large:
            tile = min(tile, LARGE_IMAGE_TILE)
        tile = max(_round_up(tile, self.multiple), 4 * self.band)
        self.padded = (_round_up(self.height, self.multiple), _round_up(self.width, self.multiple))
        # Beyond the image, a full context of it on a seamless axis (wrapped around); on
        # the others what the generator asks for: a zero-padded one a whole context of
        # mirrored image, so its padding never reaches a kept pixel (a shorter mirror
        # left a band up to 64 px wide along the edges), a mirror-padded one none.
        edge = _round_up(int(generator.border), self.multiple)
        self.border = tuple(self.context if w else edge for w in wrap)
        self.rows = _cores(self.padded[0], tile, self.multiple)
        self.cols = _cores(self.padded[1], tile, self.multiple)

    def extent(self, cores: list[tuple[int, int]], k: int, axis: int) -> tuple[int, int, int, int]:
        """(input start, input stop, kept start, kept stop) for core ``k`` along ``axis``."""
        lo, hi = cores[k]
        lo_band = self.band if k > 0 else 0
        hi_band = self.band if k < len(cores) - 1 else 0
        keep_lo, keep_hi = lo - lo_band, hi + hi_band
        # Read up to ``context`` around the core, but never past the padded border.
        bound = self.border[axis]
        start = max(-bound, keep_lo - self.context)
        stop = min(self.padded[axis] + bound, keep_hi + self.context)
        return start, stop, keep_lo, keep_hi

    def source_rows(self, r: int) -> np.ndarray:
        """The source rows the tiles of strip ``r`` read."""
        start, stop = self.extent(self.rows, r, 0)[:2]
        return source_index(self.height, start, stop, self.wrap[0])

    def read(self, y0: int, y1: int, x0: int, x1: int) -> Tile:
        """The pixels (float32 (h, w, 3)) of padded coordinates, mirrored or wrapped at the
        borders, with the source row and column each comes from."""
        ys = source_index(self.height, y0, y1, self.wrap[0])
        xs = source_index(self.width, x0, x1, self.wrap[1])
        # One axis at a time: the result stays C-contiguous (indexing [ys][:, xs] gave a
        # transposed layout that every later copy paid for: 20 ms a 1240 px tile).
        return Tile(to_float(self.rgb.take(ys, axis=0).take(xs, axis=1)), ys, xs)

    def whole(self) -> tuple[Tile, int, int]:
        """The padded image with ``context`` wrapped around on seamless axes, and the
        offset of the image inside it."""
        top, left = self.border
        height, width = self.padded
        return self.read(-top, height + top, -left, width + left), top, left

    def stats_sample(self) -> list[Tile]:
        """The whole image if small enough, else a batch of full-resolution crops."""
        height, width = self.padded
        if height * width <= WHOLE_STATS_MAX_PIXELS:
            return [self.whole()[0]]
        size_y, size_x = min(STATS_CROP, height), min(STATS_CROP, width)
        count = round(STATS_SHARE * height * width / (size_y * size_x))
        count = min(STATS_CROPS, max(4, count))
        side = int(np.ceil(np.sqrt(count)))
        tops = np.linspace(0, height - size_y, side).astype(int) // self.multiple * self.multiple
        lefts = np.linspace(0, width - size_x, side).astype(int) // self.multiple * self.multiple
        spots = [(t, s) for t in tops for s in lefts]
        spots = [spots[i] for i in np.linspace(0, len(spots) - 1, count).astype(int)]
        return [self.read(t, t + size_y, s, s + size_x) for t, s in spots]


class Tile(NamedTuple):
    """Pixels read for the generator, and where in the source image each came from."""

    pixels: np.ndarray  # float32 (h, w, 3)
    rows: np.ndarray  # (h,) source row of each pixel row
    cols: np.ndarray  # (w,) source column of each pixel column


def _inputs(tiles: list[Tile], device: torch.device) -> tuple[torch.Tensor, Coords]:
    """Same-sized tiles as the generator's input: an (N, 3, H, W) channels-last tensor
    (the pixels' own memory for one tile) and the coordinates that key its noise."""
    batch = tiles[0].pixels[None] if len(tiles) == 1 else np.stack([t.pixels for t in tiles])
    tensor = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2)
    rows = torch.from_numpy(np.stack([t.rows for t in tiles])).to(device)
    cols = torch.from_numpy(np.stack([t.cols for t in tiles])).to(device)
    return tensor.to(device).contiguous(memory_format=torch.channels_last), (rows, cols)


def stylize_tiled(generator: torch.nn.Module, rgb: np.ndarray, tile: int = DEFAULT_TILE,
                  wrap: tuple[bool, bool] = (False, False), finish: FinishFn | None = None,
                  progress: ProgressFn | None = None,
                  cancel: threading.Event | None = None,
                  precision: Precision | None = None, in_place: bool = False) -> np.ndarray:
    """Stylize ``rgb`` (H, W, 3; uint8, uint16 or float32 0..1) tile by tile.

    ``wrap`` makes rows/columns seamless (circular). ``finish`` post-processes
    each finished strip with its source pixels. ``precision`` (default fp32)
    covers the statistics pass and every tile alike. Returns ``rgb``'s dtype.
    ``in_place`` writes the result over ``rgb`` (an 8K texture then needs no second
    200 MB array); a cancelled or failed run leaves ``rgb`` partly overwritten.
    """
    geo = _Tiler(rgb, generator, tile, wrap)
    device = next(generator.parameters()).device
    precision = precision or resolve_precision(device, "fp32")
    with (_model_lock(generator), reuse_freed_memory(not geo.large), torch.inference_mode(),
          precision.autocast()):
        precision.prepare(generator)
        check_cancel(cancel)
        if geo.padded[0] * geo.padded[1] <= ONE_PASS_MAX_PIXELS:
            out = _run_whole(generator, geo, finish, device)
            report(progress, 1.0, "stylize", "tile 1/1")
            return out
        total = len(geo.rows) * len(geo.cols)
        sink = _RowSink(geo, rgb if in_place else np.empty_like(rgb))
        report(progress, 0.0, "stylize", "measuring image statistics")
        with shared_statistics(generator, *_inputs(geo.stats_sample(), device)):
            carry: np.ndarray | None = None
            for r in range(len(geo.rows)):
                carry = _run_strip(generator, geo, r, carry, sink, finish, device,
                                   progress, cancel, total)
    report(progress, 1.0, "stylize", f"{total} tiles done")
    return sink.out


def _run_whole(generator: torch.nn.Module, geo: _Tiler, finish: FinishFn | None,
               device: torch.device) -> np.ndarray:
    """One untiled pass; its own instance statistics equal the shared ones exactly."""
    sample, top, left = geo.whole()
    result = generator(*_inputs([sample], device)).clamp_(0.0, 1.0)[0].float()
    styl = result.permute(1, 2, 0).cpu().numpy()[top : top + geo.height, left : left + geo.width]
    if finish is not None:
        styl = finish(styl, to_float(geo.rgb))
    return from_float(styl, geo.rgb.dtype)


def _run_strip(generator: torch.nn.Module, geo: _Tiler, r: int, carry: np.ndarray | None,
               sink: _RowSink, finish: FinishFn | None, device: torch.device,
               progress: ProgressFn | None, cancel: threading.Event | None,
               total: int) -> np.ndarray | None:
    """Run one row of tiles, hand its finished rows to ``sink``, return the carried band."""
    in_y0, in_y1, keep_y0, keep_y1 = geo.extent(geo.rows, r, 0)
    strip = np.zeros((keep_y1 - keep_y0, geo.padded[1], 3), np.float32)
    if carry is not None:
        strip[: carry.shape[0]] = carry
    weight_y = _ramp(keep_y1 - keep_y0, *_bands(geo, geo.rows, r))
    for c in range(len(geo.cols)):
        check_cancel(cancel)
        in_x0, in_x1, keep_x0, keep_x1 = geo.extent(geo.cols, c, 1)
        tile = _inputs([geo.read(in_y0, in_y1, in_x0, in_x1)], device)
        result = generator(*tile).clamp_(0.0, 1.0)[0].float().permute(1, 2, 0).cpu().numpy()
        kept = result[keep_y0 - in_y0 : keep_y1 - in_y0, keep_x0 - in_x0 : keep_x1 - in_x0]
        weight_x = _ramp(keep_x1 - keep_x0, *_bands(geo, geo.cols, c))
        weights = torch.from_numpy((weight_y[:, None] * weight_x[None, :])[..., None])
        # In torch: on every core, and without a temporary the size of the tile.
        torch.from_numpy(strip[:, keep_x0:keep_x1]).addcmul_(torch.from_numpy(kept), weights)
        done = r * len(geo.cols) + c + 1
        report(progress, done / total, "stylize", f"tile {done}/{total}")
    sink.strip_done(r)  # nothing is written before ``put``, after the finish read its rows
    last = r == len(geo.rows) - 1
    final_rows = strip.shape[0] if last else strip.shape[0] - 2 * geo.band
    top = max(keep_y0, 0)
    bottom = min(keep_y0 + final_rows, geo.height)
    if bottom > top:
        styl = strip[top - keep_y0 : bottom - keep_y0, : geo.width]
        if finish is not None:
            styl = finish(styl, to_float(geo.rgb[top:bottom]))
        sink.put(top, from_float(styl, sink.out.dtype))
    return None if last else strip[final_rows:].copy()


class _RowSink:
    """Where finished output rows go: straight into a separate array; or, in place, into
    the source array once no strip still to run reads those source rows (each reads
    ``context`` rows beyond its core, and across the border on a seamless axis)."""

    def __init__(self, geo: _Tiler, out: np.ndarray) -> None:
        self.out = out
        self.in_place = out is geo.rgb
        count = len(geo.rows) if self.in_place else 0
        self._strip_rows = [np.unique(geo.source_rows(r)) for r in range(count)]
        self._readers = np.zeros(geo.height, np.int32)  # strips yet to run, per source row
        for rows in self._strip_rows:
            self._readers[rows] += 1
        self._pending: list[tuple[int, np.ndarray]] = []

    def strip_done(self, r: int) -> None:
        """Strip ``r`` has read all its source rows."""
        if self.in_place:
            self._readers[self._strip_rows[r]] -= 1

    def put(self, top: int, rows: np.ndarray) -> None:
        """Finished output rows ``top..``: written now, or as soon as nothing reads there."""
        if not self.in_place:
            self.out[top : top + len(rows)] = rows
            return
        self._pending.append((top, rows))
        waiting = []
        for start, block in self._pending:
            free = self._readers[start : start + len(block)] == 0
            self.out[start : start + len(block)][free] = block[free]
            if not free.all():
                waiting.append((start, block))
        self._pending = waiting


def _bands(geo: _Tiler, cores: list[tuple[int, int]], k: int) -> tuple[int, int]:
    return (geo.band if k > 0 else 0), (geo.band if k < len(cores) - 1 else 0)
