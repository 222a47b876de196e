"""Put stylized textures into the materials, and take them out again (Revert).

A stylized texture is a new image datablock ``<original>.restyle`` holding an ID
property ``restyle_original`` that points at the untouched original; the original gets
a fake user so it survives save/reload while no node uses it. Both survive saving the
.blend, so Revert works after reopening it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import bpy

from .discovery import TextureUse, is_stylized, objects_materials, stylized_name
from .jobs import safe_stem
from .keptpng import save_kept

_FAKE_USER_FLAG = "restyle_fake_user"


def _stylized_file_name(original: bpy.types.Image, result: Path) -> str:
    return f"{safe_stem(original.name)}.restyle{result.suffix.lower() or '.png'}"


def load_stylized(use: TextureUse, result: Path, size: tuple[int, int]) -> bpy.types.Image:
    """Load one result as a new, unlinked datablock at the original's size (undoable step 1).

    Nothing else changes, so a failure here is undone by removing what was loaded.
    """
    original = use.live_image()
    if original is None:
        raise RuntimeError(f"Image '{use.name}' was removed while it was being stylized")
    new = bpy.data.images.load(str(result), check_existing=False)
    new.colorspace_settings.name = original.colorspace_settings.name
    new.alpha_mode = original.alpha_mode
    if tuple(new.size[:]) != tuple(size):
        new.scale(*size)
    return new


def switch_to(use: TextureUse, new: bpy.types.Image, result: Path, out_dir: Path | None) -> None:
    """Store ``new`` (file in ``out_dir``, or packed) and point the texture's nodes at it.

    The previous run's stylized datablock of the same original is replaced, not stacked;
    its file of the same name is overwritten.
    """
    original = use.live_image()
    file_name = _stylized_file_name(original, result)
    if out_dir is None:
        save_kept(result, result)  # the worker wrote it fast; pack it compressed as ever
        new.pack()
        new.filepath_raw = f"//restyle/{file_name}"  # where Unpack would put it
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        dest = out_dir / file_name
        if new.is_dirty:  # scaled back to the original's size
            new.filepath_raw = str(dest)
            new.save()
        else:
            save_kept(result, dest)
        new.filepath_raw = bpy.path.relpath(str(dest)) if bpy.data.filepath else str(dest)
    new["restyle_original"] = original
    if not original.use_fake_user:
        original.use_fake_user = True
        original[_FAKE_USER_FLAG] = True
    previous = bpy.data.images.get(stylized_name(original))
    if previous is not None and previous.get("restyle_original") == original:
        previous.user_remap(new)
        bpy.data.images.remove(previous)
    for ref in use.nodes:
        node = ref.resolve()
        if node is not None and node.type == "TEX_IMAGE":
            node.image = new
    new.name = stylized_name(original)


def apply_results(items: list[tuple[TextureUse, Path, tuple[int, int]]],
                  out_dir: Path | None) -> list[str]:
    """Write back every result, all or nothing: load them all first, then switch.

    Returns the names of the originals now shown stylized.
    """
    loaded: list[bpy.types.Image] = []
    try:
        for use, result, size in items:
            loaded.append(load_stylized(use, result, size))
    except Exception:
        for image in loaded:
            bpy.data.images.remove(image)
        raise
    for (use, result, _size), new in zip(items, loaded, strict=True):
        switch_to(use, new, result, out_dir)
    return [use.name for use, _result, _size in items]


def _all_trees(materials) -> list:
    """The node trees of ``materials`` and every node group they use (recursively)."""
    trees, todo = [], [m.node_tree for m in materials if m.node_tree is not None]
    while todo:
        tree = todo.pop()
        if tree in trees:
            continue
        trees.append(tree)
        todo += [n.node_tree for n in tree.nodes if n.type == "GROUP" and n.node_tree]
    return trees


def revert(materials=None) -> list[str]:
    """Switch image nodes back to the originals; ``materials`` None means the whole file.

    Stylized datablocks nobody uses any more are removed (their files stay on disk) and
    the originals get their fake-user setting back. Returns the reverted originals' names.
    """
    if materials is None:
        materials = list(bpy.data.materials)
        trees = _all_trees(materials) + [g for g in bpy.data.node_groups
                                         if g.bl_idname == "ShaderNodeTree"]
    else:
        trees = _all_trees(materials)
    reverted: list[str] = []
    touched = []
    for tree in dict.fromkeys(trees):
        for node in tree.nodes:
            if node.type == "TEX_IMAGE" and node.image is not None and is_stylized(node.image):
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
    trees = _all_trees(list(bpy.data.materials)) + [
        g for g in bpy.data.node_groups if g.bl_idname == "ShaderNodeTree"]
    swapped = []
    for tree in dict.fromkeys(trees):
        for node in tree.nodes:
            if node.type == "TEX_IMAGE" and node.image is not None and is_stylized(node.image):
                swapped.append((node, node.image))
                node.image = node.image["restyle_original"]
    try:
        yield
    finally:
        for node, stylized in swapped:
            node.image = stylized


def revert_objects(objects) -> list[str]:
    """Revert the materials of ``objects`` only."""
    return revert(objects_materials(objects))
