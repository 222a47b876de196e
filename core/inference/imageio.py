"""Load any texture as RGB for the network, and save the result in the source's own form.

Colour goes to the network as RGB; alpha is kept aside untouched and written
back bit for bit. The source's mode, bit depth and format are recorded so the
output has the same size, mode, bit depth and file format:

- 8-bit RGB/RGBA, greyscale L/LA, 1-bit, CMYK and other Pillow modes: converted
  back to the source mode (greyscale outputs take the stylized luminance).
- Palette (P) without transparency: re-quantised to an adaptive palette of the
  same size. Palette images WITH transparency come back as RGBA (a palette
  cannot hold the new colours and the old alpha at once).
- 16-bit greyscale (I;16, I) and 16-bit RGB/RGBA/grey+alpha PNG: kept at 16 bits.
- OpenEXR (float): R, G, B are encoded to sRGB and clipped to 0..1 for the
  network (values above 1 are clipped); A and every other channel are copied
  through untouched, and the header's compression is kept.
- Animated or multi-page files: the first frame only.

Pixel storage stays uint8/uint16 where the source is integer (an 8K texture in
float32 would cost 800 MB); ``to_float`` gives the float32 0..1 view.
"""

from __future__ import annotations

import os
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import BadInput
from .png import png_header, read_png16, write_png

#: The largest image accepted (width * height): 16384 x 16384, a 16K texture.
MAX_PIXELS = 16384 * 16384
# Pillow refuses images over 2x its limit; our own check below gives the clear message.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
#: The Pillow formats Restyle reads (OpenEXR has its own reader); no other Pillow plugin
#: (EPS through Ghostscript, PSD, ...) is ever reached, whatever a file's bytes claim.
PILLOW_FORMATS = ("PNG", "JPEG", "TIFF", "WEBP", "BMP", "TGA")

_EXR_MAGIC = b"\x76\x2f\x31\x01"
#: zlib level of intermediate PNGs (read back at once by another program): several times
#: faster to write than the default 6, for files a few percent bigger.
FAST_PNG_LEVEL = 1
#: The zlib level of kept PNGs that ``png.write_png`` writes: with its Z_FILTERED strategy
#: the files come within 1% of Pillow's default (level 6) size in a quarter of the time.
KEPT_PNG_LEVEL = 4
_TO_RGB_KEEPING_ALPHA = {"RGBA", "LA", "PA", "RGBa", "La"}


@dataclass
class SourceFile:
    """The file an image was read from, and how to write a result the same way.

    (Not the service's ``refs.CheckedImage``, which is a client's input checked before
    any pixel is read.)
    """

    path: Path
    format: str  # Pillow format name, or "OPENEXR"
    mode: str  # source mode: a Pillow mode, "RGB;16"/"RGBA;16"/"LA;16", or "EXR"
    bit_depth: int  # bits per sample: 1, 8, 16 or 32
    width: int
    height: int
    extension: str  # output file extension, with the dot
    save_options: dict[str, Any] = field(default_factory=dict)
    extra_channels: dict[str, np.ndarray] = field(default_factory=dict)  # EXR, untouched


@dataclass
class LoadedImage:
    """``rgb`` (H, W, 3) as stored (uint8, uint16, or float32 0..1); ``alpha`` untouched."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    info: SourceFile


def to_float(rgb: np.ndarray) -> np.ndarray:
    """float32 0..1 from uint8/uint16/float storage."""
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float32) / 255.0
    if rgb.dtype == np.uint16:
        return rgb.astype(np.float32) / 65535.0
    return np.clip(rgb, 0.0, 1.0).astype(np.float32, copy=False)


def from_float(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round float 0..1 values back to the storage dtype (the inverse of ``to_float``)."""
    values = np.clip(values, 0.0, 1.0)
    if dtype == np.uint8:
        return (values * 255.0 + 0.5).astype(np.uint8)
    if dtype == np.uint16:
        return (values * 65535.0 + 0.5).astype(np.uint16)
    return values.astype(np.float32, copy=False)


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma, as Pillow's RGB->L conversion uses, in the rgb's own dtype."""
    luma = to_float(rgb) @ np.array([0.299, 0.587, 0.114], np.float32)
    return from_float(luma, rgb.dtype)


def _check_size(path: Path, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise BadInput(f"Image {path} has zero size ({width}x{height}); re-export it.")
    if width * height > MAX_PIXELS:
        raise BadInput(
            f"Image {path} is {width}x{height} pixels, over Restyle's limit of "
            f"{MAX_PIXELS // 1_000_000} megapixels (16384x16384); downscale or split it first."
        )


def load_image(path: str | os.PathLike) -> LoadedImage:
    """Load ``path`` for stylizing; every failure is a ``BadInput`` naming the file."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"Image {path} does not exist; check the path.")
    if not path.is_file():
        raise BadInput(f"Image {path} is not a file; give an image file.")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise BadInput(f"Image {path} cannot be read ({exc.strerror}); check permissions.") from exc
    if not magic:
        raise BadInput(f"Image {path} is empty (0 bytes); re-export it.")
    if magic == _EXR_MAGIC:
        return _load_exr(path)
    return _load_pillow(path)


def _load_pillow(path: Path) -> LoadedImage:
    Image.init()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path, formats=PILLOW_FORMATS)
    except Image.DecompressionBombError as exc:
        raise BadInput(
            f"Image {path} claims more than {MAX_PIXELS // 1_000_000} megapixels (a possible "
            "decompression bomb); downscale or split it first."
        ) from exc
    except UnidentifiedImageError as exc:
        raise BadInput(
            f"File {path} is corrupt or not an image format Restyle reads (PNG, JPEG, TIFF, "
            "WebP, BMP, TGA, OpenEXR); re-export it as PNG."
        ) from exc
    except OSError as exc:
        raise BadInput(f"Image {path} cannot be opened ({exc}); re-export it.") from exc
    with image:
        _check_size(path, *image.size)
        fmt = image.format or "PNG"
        ext = path.suffix.lower() if fmt in Image.SAVE else ".png"
        info = SourceFile(path, fmt if fmt in Image.SAVE else "PNG", image.mode, 8,
                         image.width, image.height, ext, _save_options(image))
        try:
            image.load()
            rgb, alpha = _pixels(path, image, info)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise BadInput(
                f"Image {path} is corrupt or truncated ({exc}); re-export or re-download it."
            ) from exc
    return LoadedImage(np.ascontiguousarray(rgb), alpha, info)


def _save_options(image: Image.Image) -> dict[str, Any]:
    options = {k: image.info[k] for k in ("icc_profile", "dpi") if k in image.info}
    if image.format == "JPEG":
        options["quality"] = 95
    if image.mode == "P":
        options["palette_colors"] = max(2, len(image.getpalette() or []) // 3)
    return options


def _read(image: Image.Image, colour_bands: int | None = None) -> tuple[np.ndarray, Any]:
    """Pixels copied in row strips: Pillow's whole-image conversion briefly holds two
    extra copies (1 GB for an 8K texture). ``colour_bands`` splits off trailing alpha."""
    bands = len(image.getbands())
    rows = max(1, (1 << 24) // (image.width * bands * 4))
    colour = alpha = None
    for top in range(0, image.height, rows):
        part = np.asarray(image.crop((0, top, image.width, min(top + rows, image.height))))
        if colour is None:
            shape = (image.height, image.width)
            if colour_bands is None:
                colour = np.empty(shape + part.shape[2:], part.dtype)
            else:
                colour = np.empty(shape + ((colour_bands,) if colour_bands > 1 else ()),
                                  part.dtype)
                alpha = np.empty(shape, part.dtype)
        if colour_bands is None:
            colour[top : top + len(part)] = part
        else:
            colour[top : top + len(part)] = (part[..., :colour_bands] if colour_bands > 1
                                             else part[..., 0])
            alpha[top : top + len(part)] = part[..., colour_bands]
    return colour, alpha


def _pixels(path: Path, image: Image.Image, info: SourceFile) -> tuple[np.ndarray, Any]:
    """rgb storage and untouched alpha for every Pillow mode; fills in info.mode/bit_depth."""
    mode = image.mode
    header = png_header(path) if image.format == "PNG" else None
    if header is not None and header[0] == 16 and header[1] in (2, 4, 6):
        samples = read_png16(path, header[1])
        info.mode, info.bit_depth = {2: "RGB;16", 4: "LA;16", 6: "RGBA;16"}[header[1]], 16
        if header[1] == 4:
            return _grey_to_rgb(samples[..., 0]), samples[..., 1].copy()
        return samples[..., :3], (samples[..., 3].copy() if header[1] == 6 else None)
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        info.mode, info.bit_depth = ("I;16" if mode != "I" else "I"), 16
        grey = _read(image)[0]
        grey = grey if grey.dtype == np.uint16 else np.clip(grey, 0, 65535).astype(np.uint16)
        return _grey_to_rgb(grey), None
    if mode == "F":
        info.bit_depth = 32
        return _grey_to_rgb(np.clip(_read(image)[0], 0.0, 1.0)), None
    if mode == "1":
        info.bit_depth = 1
    if mode == "P" and "transparency" in image.info:
        info.mode, mode, image = "RGBA", "RGBA", image.convert("RGBA")
    if mode in ("L", "1"):
        return _grey_to_rgb(_read(image if mode == "L" else image.convert("L"))[0]), None
    if mode in _TO_RGB_KEEPING_ALPHA:
        if mode in ("LA", "La"):
            grey, alpha = _read(image, 1)
            return _grey_to_rgb(grey), alpha
        if mode != "RGBA":
            info.mode, image = "RGBA", image.convert("RGBA")
        return _read(image, 3)
    return _read(image if mode == "RGB" else image.convert("RGB"))


def _load_exr(path: Path) -> LoadedImage:
    import OpenEXR

    try:
        exr = OpenEXR.File(str(path), separate_channels=True)
        part = exr.parts[0]
        channels = {name: np.asarray(ch.pixels) for name, ch in part.channels.items()}
    except (RuntimeError, ValueError) as exc:
        raise BadInput(f"OpenEXR image {path} is corrupt or truncated ({exc}); re-export it.") \
            from exc
    colour = ("R", "G", "B") if all(c in channels for c in "RGB") else ("Y",)
    if not all(c in channels for c in colour):
        raise BadInput(
            f"OpenEXR image {path} has no R, G, B or Y channels (it has "
            f"{', '.join(sorted(channels))}); export the colour pass as RGB(A)."
        )
    first = channels[colour[0]]
    if first.ndim != 2 or any(channels[c].shape != first.shape for c in colour):
        raise BadInput(f"OpenEXR image {path} has subsampled colour channels; unsupported.")
    height, width = first.shape
    _check_size(path, width, height)
    linear = np.stack([channels.pop(c).astype(np.float32) for c in colour], -1)
    if len(colour) == 1:
        linear = _grey_to_rgb(linear[..., 0])
    alpha = channels.pop("A", None)
    options = {"compression": part.header.get("compression"), "dtype": first.dtype}
    info = SourceFile(path, "OPENEXR", "EXR" if len(colour) == 3 else "EXR;Y",
                     32 if first.dtype == np.float32 else 16, width, height,
                     path.suffix.lower() or ".exr", options, channels)
    return LoadedImage(_linear_to_srgb(linear), alpha, info)


def _linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    x = np.clip(np.nan_to_num(linear), 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(
        np.float32
    )


def _srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    x = np.clip(srgb, 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4))


def save_image(path: str | os.PathLike, rgb: np.ndarray, alpha: np.ndarray | None,
               info: SourceFile, fast: bool = False) -> Path:
    """Write ``rgb`` (+ the untouched ``alpha``) as ``info`` describes, atomically.

    The file appears complete or not at all: it is written to a temporary file
    in the same folder and renamed, so a failure never leaves a partial output.
    ``fast`` compresses a PNG at ``FAST_PNG_LEVEL``: for intermediate files only. RGB(A)
    and 16-bit PNGs go through ``png.write_png`` (both cores), other modes through Pillow.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")  # same folder: atomic
    level = FAST_PNG_LEVEL if fast else KEPT_PNG_LEVEL
    try:
        if info.format == "OPENEXR":
            _save_exr(tmp, rgb, alpha, info)
        elif info.mode in ("RGB;16", "RGBA;16", "LA;16"):
            planes = [_luminance(rgb)[..., None]] if info.mode == "LA;16" else [rgb]
            planes += [] if alpha is None else [alpha[..., None]]
            write_png(tmp, np.concatenate(planes, -1).astype(np.uint16), level)
        elif info.format == "PNG" and (info.mode, alpha is None) in (("RGB", True),
                                                                     ("RGBA", False)):
            samples = rgb if rgb.dtype == np.uint8 else from_float(to_float(rgb), np.uint8)
            if alpha is not None:
                samples = np.concatenate([samples, alpha[..., None]], -1)
            write_png(tmp, samples, level, info.save_options.get("icc_profile"),
                      info.save_options.get("dpi"))
        else:
            options = {k: v for k, v in info.save_options.items() if k != "palette_colors"}
            if fast and info.format == "PNG":
                options["compress_level"] = FAST_PNG_LEVEL
            _to_pillow(rgb, alpha, info).save(tmp, format=info.format, **options)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _to_pillow(rgb: np.ndarray, alpha: np.ndarray | None, info: SourceFile) -> Image.Image:
    mode = info.mode
    if mode in ("I;16", "I"):
        grey = _luminance(rgb)
        return Image.fromarray(grey if mode == "I;16" else grey.astype(np.int32))
    if mode == "F":
        return Image.fromarray(_luminance(rgb).astype(np.float32))
    image = Image.fromarray(from_float(to_float(rgb), np.uint8) if rgb.dtype != np.uint8
                            else rgb, "RGB")
    if mode in ("L", "1", "LA", "La"):
        image = image.convert("L")
        if alpha is not None:
            image.putalpha(Image.fromarray(alpha, "L"))
        return image.convert(mode) if mode == "1" else image
    if alpha is not None:
        image.putalpha(Image.fromarray(alpha, "L"))
        return image
    if mode == "P":
        colours = int(info.save_options.get("palette_colors", 256))
        return image.quantize(colors=min(256, colours), dither=Image.Dither.FLOYDSTEINBERG)
    return image if mode == "RGB" else image.convert(mode)


def _save_exr(path: Path, rgb: np.ndarray, alpha: np.ndarray | None, info: SourceFile) -> None:
    import OpenEXR

    dtype = info.save_options["dtype"]
    linear = _srgb_to_linear(to_float(rgb))
    if info.mode == "EXR":
        channels = {c: np.ascontiguousarray(linear[..., i].astype(dtype)) for i, c in
                    enumerate("RGB")}
    else:
        channels = {"Y": (linear @ np.array([0.2126, 0.7152, 0.0722])).astype(dtype)}
    if alpha is not None:
        channels["A"] = alpha
    channels.update(info.extra_channels)
    header = {"type": OpenEXR.scanlineimage}
    if info.save_options.get("compression") is not None:
        header["compression"] = info.save_options["compression"]
    OpenEXR.File(header, channels).write(str(path))
