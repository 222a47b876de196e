"""Stylize one image (file or array) with a loaded style model and the user's controls."""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..device import resolve_device
from ..errors import BadInput
from ..precision import PRECISION_CHOICES, resolve_precision
from ..progress import ProgressFn, check_cancel, report, scaled
from ..store import StyleModel, load_model
from .imageio import MAX_PIXELS, LoadedImage, from_float, load_image, save_image, to_float
from .tiling import DEFAULT_TILE, FinishFn, is_tileable, stylize_tiled

SEAMLESS_CHOICES = ("auto", "on", "off")
_FINISH_ROWS = 256  # rows per chunk when finishing a resampled image
# Rec. 601 full-range RGB <-> YCbCr: luminance from the stylized image, chroma kept.
_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5],
                    [0.5, -0.418688, -0.081312]], np.float32)


@dataclass
class StylizeSettings:
    """How to stylize: every field has a default and is JSON-serialisable."""

    tile: int = DEFAULT_TILE  # tile core in pixels: bounds memory, never changes the result
    seamless: str = "auto"  # auto (detect tileable input) | on | off
    strength: float = 1.0  # 0 = the input, 1 = full style (a blend)
    preserve_color: bool = False  # keep the input's chroma, take the stylized luminance
    scale: float = 1.0  # stroke scale: the net runs on the input resampled by this factor
    device: str = "auto"
    precision: str = "auto"  # auto (bf16 where the CPU runs it fast) | fp32 | bf16

    def validate(self) -> None:
        """Raise ``BadInput`` naming the bad setting."""
        if not isinstance(self.tile, int) or self.tile < 32:
            raise BadInput(f"Tile size {self.tile!r} is too small; use at least 32 pixels.")
        if self.seamless not in SEAMLESS_CHOICES:
            raise BadInput(f"Seamless must be one of {', '.join(SEAMLESS_CHOICES)}, "
                           f"not {self.seamless!r}.")
        if self.precision not in PRECISION_CHOICES:
            raise BadInput(f"Precision must be one of {', '.join(PRECISION_CHOICES)}, "
                           f"not {self.precision!r}.")
        try:
            strength, scale = float(self.strength), float(self.scale)
        except (TypeError, ValueError) as exc:
            raise BadInput(f"Strength {self.strength!r} and scale {self.scale!r} must be "
                           "numbers.") from exc
        if not 0.0 <= strength <= 1.0:
            raise BadInput(f"Strength {self.strength!r} is out of range; use 0 to 1.")
        if not (math.isfinite(scale) and 0.05 <= scale <= 8.0):
            raise BadInput(f"Scale {self.scale!r} is out of range; use 0.05 to 8.")


def _finisher(settings: StylizeSettings) -> FinishFn | None:
    """The per-pixel finish (colour keeping, then strength), or None when it is a no-op."""
    if not settings.preserve_color and settings.strength >= 1.0:
        return None
    strength = float(settings.strength)

    def finish(styl: np.ndarray, src: np.ndarray) -> np.ndarray:
        if settings.preserve_color:
            styl = keep_colours(styl, src)
        return src + strength * (styl - src) if strength < 1.0 else styl

    return finish


def keep_colours(styl: np.ndarray, src: np.ndarray) -> np.ndarray:
    """``src``'s chroma (YCbCr) under ``styl``'s luminance, both (..., 3) in 0..1.

    Where that colour falls outside 0..1 its chroma shrinks toward grey until it fits, so
    luminance and hue stay exact. Clipping each channel instead shifted both, and on
    saturated textures its kinks painted a lattice the generator's notch had removed
    (the red tablecloth under Udnie: 1.59x the input's lattice ratio).
    """
    luma = (styl @ _TO_YCC[0])[..., None]
    chroma = src - (src @ _TO_YCC[0])[..., None]  # Cb and Cr as an offset from grey
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(chroma > 0, (1.0 - luma) / chroma,
                        np.where(chroma < 0, -luma / chroma, np.inf))
    fit = np.clip(room.min(axis=-1, keepdims=True), 0.0, 1.0)
    return np.clip(luma + fit * chroma, 0.0, 1.0)


def _resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resample (H, W, 3) of any storage dtype with Lanczos, keeping the dtype."""
    if rgb.dtype == np.uint8:
        return np.array(Image.fromarray(rgb, "RGB").resize((width, height), Image.LANCZOS))
    planes = [_resize_plane(to_float(rgb[..., i]), width, height) for i in range(3)]
    return from_float(np.stack(planes, -1), rgb.dtype)


def _resize_plane(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resample one float32 (H, W) plane with Lanczos; any sign, nothing clipped."""
    return np.asarray(Image.fromarray(values, "F").resize((width, height), Image.LANCZOS))


def _add_resized(rgb: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """``rgb`` plus ``residual`` (float32, another size) resampled to it, in ``rgb``'s dtype.

    A plane at a time, added in row chunks: an 8K texture never holds its whole
    residual in float."""
    height, width = rgb.shape[:2]
    out = np.empty_like(rgb)
    for channel in range(3):
        plane = _resize_plane(np.ascontiguousarray(residual[..., channel]), width, height)
        for top in range(0, height, _FINISH_ROWS):
            rows = slice(top, top + _FINISH_ROWS)
            out[rows, :, channel] = from_float(to_float(rgb[rows, :, channel]) + plane[rows],
                                               rgb.dtype)
    return out


def _seamless(rgb: np.ndarray, mode: str) -> tuple[bool, bool]:
    if mode == "on":
        return True, True
    if mode == "off":
        return False, False
    return is_tileable(rgb)


def stylize_array(model: StyleModel, rgb: np.ndarray, settings: StylizeSettings,
                  progress: ProgressFn | None = None,
                  cancel: threading.Event | None = None, in_place: bool = False) -> np.ndarray:
    """Stylize (H, W, 3) uint8/uint16/float32-0..1 pixels; returns the same shape and dtype.

    ``in_place`` lets the result overwrite ``rgb`` (when the caller owns it and needs
    it no more: an 8K texture then never holds two images at once)."""
    settings.validate()
    generator = _generator_for(model, settings.device)
    precision = resolve_precision(next(generator.parameters()).device, settings.precision)
    wrap = _seamless(rgb, settings.seamless)
    finish = _finisher(settings)
    height, width = rgb.shape[:2]
    if float(settings.scale) == 1.0:
        return stylize_tiled(generator, rgb, settings.tile, wrap, finish, progress, cancel,
                             precision, in_place)
    scale = float(settings.scale)
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    if size[0] * size[1] > MAX_PIXELS:
        raise BadInput(f"Scale {settings.scale} would make a {size[0]}x{size[1]} image, over "
                       "the 16384x16384 limit; use a smaller scale.")
    # The net runs on the resampled texture, but only what it changed is resampled back
    # and added: the texture keeps its own full-resolution detail (resampling the whole
    # result blurred it away at scales below 1).
    small = _resize(rgb, *size)
    changed = to_float(stylize_tiled(generator, small, settings.tile, wrap, None,
                                     scaled(progress, 0.0, 0.95), cancel, precision))
    changed -= to_float(small)
    del small
    out = _add_resized(rgb, changed)
    del changed
    if finish is not None:
        for top in range(0, height, _FINISH_ROWS):
            rows = slice(top, top + _FINISH_ROWS)
            out[rows] = from_float(finish(to_float(out[rows]), to_float(rgb[rows])), out.dtype)
    report(progress, 1.0, "stylize", "done")
    return out


def _generator_for(model: StyleModel, device: str):
    """The model's generator, on the asked-for device (reloading there if it differs)."""
    generator = model.generator
    if device == "auto" or model.path is None:
        return generator
    current = next(generator.parameters()).device
    if resolve_device(device) != current:
        return load_model(str(model.path), device).generator
    return generator


def stylize_file(model: StyleModel, src: str | os.PathLike, dst: str | os.PathLike,
                 settings: StylizeSettings, progress: ProgressFn | None = None,
                 cancel: threading.Event | None = None, intermediate: bool = False,
                 image: LoadedImage | None = None) -> Path:
    """Stylize ``src`` into ``dst`` with the same size, mode and bit depth; alpha bit-exact.

    ``dst`` appears only when complete: a failed or cancelled run leaves no file.
    ``intermediate`` (a file another program reloads at once) writes PNGs faster.
    ``image`` is ``src`` already read by ``load_image`` (the CLI reads it while torch loads).
    """
    src, dst = Path(src), Path(dst)
    settings.validate()
    report(progress, 0.0, "load", f"reading {src.name}")
    if image is None:
        image = load_image(src)
    check_cancel(cancel)
    # The image was read here for this run alone: the result overwrites its pixels.
    image.rgb = stylize_array(model, image.rgb, settings, scaled(progress, 0.05, 0.95), cancel,
                              in_place=True)
    check_cancel(cancel)
    report(progress, 0.95, "save", f"writing {dst.name}")
    try:
        save_image(dst, image.rgb, image.alpha, image.info, fast=intermediate)
    except OSError as exc:
        raise BadInput(f"Cannot write {dst} ({exc.strerror or exc}); check the folder.") from exc
    report(progress, 1.0, "save", f"wrote {dst.name}")
    return dst
