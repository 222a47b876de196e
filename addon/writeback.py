"""Put stylized textures into the materials, and take them out again (Revert).

A stylized texture is a new image datablock ``<original>.restyle`` holding an ID
property ``restyle_original`` that points at the untouched original; the original gets
a fake user so it survives save/reload while no node uses it. Both survive saving the
.blend, so Revert works after reopening it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import bpy

from .discovery import TextureUse, is_stylized, stylized_name
from .errors import AddonError
from .keptpng import save_kept
from .names import file_stem
from .paths import STYLIZED_SUFFIX
from .shading import file_trees, node_materials, node_trees, tree_image_nodes

_FAKE_USER_FLAG = "restyle_fake_user"
#: Where a packed stylized image would be unpacked to (its ``filepath_raw`` folder).
_PACKED_FOLDER = "//restyle"


def load_stylized(use: TextureUse, result: Path, size: tuple[int, int]) -> bpy.types.Image:
    """Load one result as a new, unlinked datablock at the original's size (undoable step 1).

    Nothing else changes, so a failure here is undone by removing what was loaded.
    """
    original = use.live_image()
    if original is None:
        raise AddonError(f"Image '{use.name}' was removed while it was being stylized")
    new = bpy.data.images.load(str(result), check_existing=False)
    new.colorspace_settings.name = original.colorspace_settings.name
    new.alpha_mode = original.alpha_mode
    if tuple(new.size[:]) != tuple(size):
        new.scale(*size)
    return new


def _folder_key(path: str) -> str:
    """A comparable form of the folder of a datablock path (``//`` resolved)."""
    return os.path.normcase(os.path.normpath(bpy.path.abspath(os.path.dirname(path))))


def _previous(original: bpy.types.Image) -> bpy.types.Image | None:
    """The last run's stylized datablock of ``original`` (replaced, so its name is free)."""
    previous = bpy.data.images.get(stylized_name(original))
    return previous if previous is not None and previous.get("restyle_original") == original \
        else None


def _file_names(items, loaded, folder: str) -> list[str]:
    """One file name per result, unique in ``folder`` (ignoring case) and stable per image.

    Names already used there by other datablocks are taken; the previous stylized image
    of the same original is being replaced, so its name is free again.
    """
    replaced = {_previous(use.live_image()) for use, _result, _size in items}
    key = _folder_key(folder + "/x")
    taken = {Path(image.filepath_raw).name.casefold() for image in bpy.data.images
             if image not in replaced and image not in loaded and image.filepath_raw
             and _folder_key(image.filepath_raw) == key}
    names = []
    for (use, result, _size) in items:
        suffix = f"{STYLIZED_SUFFIX}{result.suffix.lower() or '.png'}"
        names.append(file_stem(use.live_image().name, taken, suffix) + suffix)
    return names


def _store(new: bpy.types.Image, result: Path, dest: Path) -> Path:
    """Write ``new`` next to ``dest`` under a temporary name; returns that name.

    Files are only renamed into place once every result is written.
    """
    if dest.exists() and not dest.is_file():
        raise AddonError(f"Cannot write the stylized texture '{dest}': something that is "
                         "not a file has that name; move it away or choose another "
                         "Output Folder in the preferences")
    partial = dest.with_name(dest.name + ".partial")
    if new.is_dirty:  # scaled back to the original's size
        new.filepath_raw = str(partial)
        new.save()
    else:
        save_kept(result, partial)  # the worker wrote it fast; keep it compressed as ever
    return partial


def _switch(use: TextureUse, new: bpy.types.Image) -> None:
    """Point the texture's nodes at ``new``; the previous run's datablock is replaced."""
    original = use.live_image()
    new["restyle_original"] = original
    if not original.use_fake_user:
        original.use_fake_user = True
        original[_FAKE_USER_FLAG] = True
    previous = _previous(original)
    if previous is not None:
        previous.user_remap(new)
        bpy.data.images.remove(previous)
    for ref in use.nodes:
        node = ref.resolve()
        if node is not None and node.type == "TEX_IMAGE":
            node.image = new
    new.name = stylized_name(original)


def apply_results(items: list[tuple[TextureUse, Path, tuple[int, int]]],
                  out_dir: Path | None) -> list[str]:
    """Write back every result, all or nothing: load all, write all, then switch.

    Files go to ``out_dir`` (or are packed when it is None). Any failure before the
    switch removes every datablock and file this call made and leaves the materials as
    they were. Returns the names of the originals now shown stylized.
    """
    loaded: list[bpy.types.Image] = []
    written: list[tuple[Path, Path]] = []  # (partial, final)
    try:
        for use, result, size in items:
            loaded.append(load_stylized(use, result, size))
        folder = _PACKED_FOLDER if out_dir is None else str(out_dir)
        names = _file_names(items, loaded, folder)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        for (_use, result, _size), new, name in zip(items, loaded, names, strict=True):
            if out_dir is None:
                save_kept(result, result)  # the worker wrote it fast; pack it compressed
                new.pack()
                new.filepath_raw = f"{_PACKED_FOLDER}/{name}"  # where Unpack would put it
            else:
                written.append((_store(new, result, out_dir / name), out_dir / name))
        for partial, final in written:
            os.replace(partial, final)
    except Exception:
        # Whatever failed, a bug too: undo this call so the materials and the output
        # folder stay as they were, then re-raise it.
        for partial, _final in written:
            partial.unlink(missing_ok=True)
        for image in loaded:
            bpy.data.images.remove(image)
        raise
    for new, (_partial, final) in zip(loaded, written, strict=False):
        new.filepath_raw = bpy.path.relpath(str(final)) if bpy.data.filepath else str(final)
    for (use, _result, _size), new in zip(items, loaded, strict=True):
        _switch(use, new)
    return [use.name for use, _result, _size in items]


def revert(materials=None) -> list[str]:
    """Switch image nodes back to the originals; ``materials`` None means the whole file.

    Stylized datablocks nobody uses any more are removed (their files stay on disk) and
    the originals get their fake-user setting back. Returns the reverted originals' names.
    """
    trees = file_trees() if materials is None else node_trees(materials)
    reverted: list[str] = []
    touched = []
    for node in tree_image_nodes(trees):
        if is_stylized(node.image):
            stylized = node.image
            node.image = stylized["restyle_original"]
            touched.append(stylized)
            if node.image.name not in reverted:
                reverted.append(node.image.name)
    for stylized in dict.fromkeys(touched):
        if stylized.users == 0:
            original = stylized["restyle_original"]
            bpy.data.images.remove(stylized)
            if original.get(_FAKE_USER_FLAG):
                original.use_fake_user = False
                del original[_FAKE_USER_FLAG]
    return reverted


@contextlib.contextmanager
def showing_originals():
    """Temporarily point every stylized image node back at its original (then restore).

    For renders used as training content: a re-run should learn from the scene as the
    artist made it, not from the previous run's stylized look.
    """
    swapped = []
    for node in tree_image_nodes(file_trees()):
        if is_stylized(node.image):
            swapped.append((node, node.image))
            node.image = node.image["restyle_original"]
    try:
        yield
    finally:
        for node, stylized in swapped:
            node.image = stylized


def revert_objects(objects) -> list[str]:
    """Revert the materials of ``objects`` only."""
    return revert(node_materials(objects))
