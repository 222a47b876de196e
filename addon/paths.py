"""Where things are: shipped styles and their paintings (in ``core``), output folders.

Pure ``os``/``pathlib`` plus ``bpy.path`` for .blend-relative paths; reading the shipped
styles' JSON from disk lets the panel list them without starting the worker or torch.
Where the styles live and how a model folder is laid out is ``core/store.py``'s (it
imports torch only when it loads weights).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.store import META_FILE, PAINTINGS_DIR, SHIPPED_DIR, WEIGHTS_FILE

#: The suffix of a stylized image datablock's name: ``<original>.restyle``.
STYLIZED_SUFFIX = ".restyle"


def shipped_styles() -> list[dict]:
    """The shipped style models on disk: ``{"name", "description", "style_file"}``, sorted."""
    found = []
    if SHIPPED_DIR.is_dir():
        for folder in sorted(SHIPPED_DIR.iterdir()):
            meta_path = folder / META_FILE
            if not (meta_path.is_file() and (folder / WEIGHTS_FILE).is_file()):
                continue
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            images = meta.get("style_images") or [{}]
            found.append({
                "name": folder.name,
                "description": str(meta.get("description", "")),
                "style_file": str(images[0].get("file", "")),
            })
    return found


def style_painting(style: dict) -> Path | None:
    """The painting a shipped style was trained on, when it is bundled."""
    name = Path(style.get("style_file") or "").name
    path = PAINTINGS_DIR / name if name else None
    return path if path is not None and path.is_file() else None


def output_folder(prefs_dir: str, blend_path: str, abspath) -> Path | None:
    """Folder for stylized textures: preferences, else ``restyle/`` beside the saved .blend.

    None means the .blend is unsaved and no folder is set: stylized images get packed.
    ``abspath`` is ``bpy.path.abspath`` (so ``//`` in the preference works).
    """
    if prefs_dir.strip():
        return Path(abspath(prefs_dir.strip()))
    if blend_path:
        return Path(os.path.dirname(blend_path)) / "restyle"
    return None
