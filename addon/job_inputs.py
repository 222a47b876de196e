"""Turn discovered textures and the panel's settings into one worker job.

Every input (textures, style images, extra training content) is written into a job
folder first, so the worker reads only files it was allowed to (local mode) or that
were uploaded (remote mode), and packed, generated or oversized images work the same
as plain files. ``build_restyle_job`` is the one place the job body is assembled; the
render part adds scene renders (``extra_content``) and stroke scales (``image_scales``).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bpy

from ..core.protocol import RESTYLE
from ..core.training.options import EFFORT
from .discovery import TextureUse
from .errors import AddonError
from .names import file_stem
from .paths import shipped_styles, style_painting

#: File types the worker reads as they are; anything else is re-encoded as PNG.
_DIRECT_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".bmp", ".webp", ".tga"}
_FORMAT_EXT = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tiff", "OPEN_EXR": ".exr",
               "BMP": ".bmp", "WEBP": ".webp", "TARGA": ".tga"}


@dataclass
class ExportedTexture:
    """A texture written into the job folder, ready to be referenced by the job."""

    use: TextureUse
    path: Path
    size: tuple[int, int]  # the original's size, which the stylized image keeps


class TempWriteError(OSError):
    """A run's input could not be written into its temp folder (disk full, I/O error).

    Unlike an unreadable texture, which is skipped, this fails the run: every other
    texture would hit the same wall, and "nothing to restyle" would hide the cause.
    """


@contextlib.contextmanager
def _writing(image: bpy.types.Image, dest: Path) -> Iterator[None]:
    """Turn any failure inside the block into a ``TempWriteError`` naming the cause."""
    try:
        yield
    except (OSError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).strip()
        raise TempWriteError(
            f"Could not write '{image.name}' into the temp folder {dest.parent} ({reason}); "
            "free some disk space there (or point TMPDIR at a bigger disk) and run again"
        ) from exc


def export_image(image: bpy.types.Image, dest_dir: Path, stem: str, max_size: int) -> Path:
    """Write ``image`` into ``dest_dir`` as a file the worker can read; returns the path.

    Files and packed bytes are copied as they are (bit depth kept); generated, edited
    or larger-than-``max_size`` images go through a temporary copy saved as PNG, so
    the original datablock is never modified. A source that cannot be read raises
    ``AddonError``/``OSError`` (or Blender's ``RuntimeError``); a copy that cannot be
    written, ``TempWriteError``.
    """
    width, height = image.size[:]
    if width == 0 or height == 0:
        raise AddonError(f"Image '{image.name}' has no pixels (cannot be loaded)")
    too_big = max(width, height) > max_size
    if not too_big and not image.is_dirty and image.source == "FILE":
        if image.packed_file is not None:
            ext = _FORMAT_EXT.get(image.file_format, "")
            if ext:
                data = bytes(image.packed_file.data)
                dest = dest_dir / f"{stem}{ext}"
                with _writing(image, dest):
                    dest.write_bytes(data)
                return dest
        else:
            src = Path(bpy.path.abspath(image.filepath, library=image.library))
            if src.suffix.lower() in _DIRECT_EXTS:
                dest = dest_dir / f"{stem}{src.suffix.lower()}"
                with src.open("rb") as source, _writing(image, dest), dest.open("wb") as out:
                    shutil.copyfileobj(source, out)
                return dest
    dest = dest_dir / f"{stem}.png"
    temp = image.copy()
    try:
        if too_big:
            factor = max_size / max(width, height)
            temp.scale(max(1, round(width * factor)), max(1, round(height * factor)))
        temp.filepath_raw = str(dest)
        temp.file_format = "PNG"
        with _writing(image, dest):
            temp.save()
    finally:
        bpy.data.images.remove(temp)
    return dest


def export_textures(textures: list[TextureUse], job_dir: Path, max_size: int,
                    skipped: dict[str, str]) -> list[ExportedTexture]:
    """Export every texture into ``job_dir/textures``; unreadable ones go to ``skipped``.

    A texture that cannot be *written* raises ``TempWriteError`` (the run fails).
    """
    folder = job_dir / "textures"
    folder.mkdir(parents=True, exist_ok=True)
    exported = []
    for index, use in enumerate(textures):
        try:
            size = tuple(use.image.size[:])
            path = export_image(use.image, folder, f"{index:03d}_{file_stem(use.image.name)}",
                                max_size)
        except TempWriteError:
            raise
        except (AddonError, RuntimeError, OSError) as exc:  # RuntimeError: Blender's
            skipped[use.image.name] = f"could not be read ({exc})"
            continue
        exported.append(ExportedTexture(use, path, size))
    return exported


def export_style_images(settings, job_dir: Path) -> list[Path]:
    """The style images the job trains on, written into ``job_dir/styles``."""
    folder = job_dir / "styles"
    folder.mkdir(parents=True, exist_ok=True)
    if settings.style_source == "SHIPPED":
        style = next((s for s in shipped_styles() if s["name"] == settings.shipped_style), None)
        painting = style_painting(style) if style else None
        if painting is None:
            raise AddonError(f"The painting of shipped style '{settings.shipped_style}' is "
                               "not bundled, so it cannot be fitted to the scene; turn off "
                               "'Fit to This Scene'")
        dest = folder / painting.name
        shutil.copyfile(painting, dest)
        return [dest]
    paths = []
    for index, item in enumerate(settings.style_images):
        if item.image is not None:
            stem = f"{index:02d}_{file_stem(item.image.name)}"
            paths.append(export_image(item.image, folder, stem, 1024))
    if not paths:
        raise AddonError("No style image chosen: add one in the Restyle panel "
                           "(Style Images) or pick a shipped style")
    return paths


def needs_training(settings) -> bool:
    """Training happens only for custom style images or an explicit fit-to-scene.

    A given model folder (``model_path``) is always applied as it is.
    """
    if settings.model_path:
        return False
    return settings.style_source == "IMAGES" or settings.fit_to_scene


def build_restyle_job(context, textures: list[ExportedTexture], settings,
                      extra_content=(), image_scales: dict[str, float] | None = None, *,
                      style_paths: list[Path] | None = None,
                      content: list[Path] | None = None) -> dict:
    """The body of one ``restyle`` job (see DEVELOPERS.md) with local file paths as refs.

    ``extra_content``: more training content (e.g. scene renders); ``image_scales``:
    stroke scale per original image name; ``style_paths``: exported style images and
    ``content``: the training textures (default: ``textures``), both needed only when
    training. A shipped style without fitting is applied directly, with no training.
    """
    from .preferences import get_prefs

    values: dict = {
        "strength": float(settings.strength),
        "preserve_color": bool(settings.keep_colors),
        "seamless": settings.seamless,
    }
    prefs = get_prefs(context)
    for name in ("device", "precision"):  # "auto" is the worker's own default
        if getattr(prefs, name) != "auto":
            values[name] = getattr(prefs, name)
    scales = image_scales or {}
    images = []
    for tex in textures:
        spec: dict = {"ref": str(tex.path)}
        scale = scales.get(tex.use.image.name)
        if scale:
            spec["scale"] = float(scale)
        images.append(spec)
    job: dict = {"kind": RESTYLE, "images": images, "settings": values}
    if not needs_training(settings):
        job["model"] = (bpy.path.abspath(settings.model_path) if settings.model_path
                        else settings.shipped_style)
        return job
    steps, size, budget = EFFORT[settings.effort]
    values.update(steps=settings.steps_override or steps, size=size, time_budget_s=budget)
    if settings.style_source == "SHIPPED":
        values["init_from"] = settings.shipped_style
    job["styles"] = [str(p) for p in style_paths or ()]
    base = content if content is not None else [t.path for t in textures]
    job["content"] = [str(p) for p in base] + [str(p) for p in extra_content]
    return job
