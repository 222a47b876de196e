"""File names for image datablocks: readable, safe on every file system, and unique.

Datablock names may hold any Unicode text, ``/``, ``:`` and the like, and differ only in
case; file systems refuse some characters and names, and macOS and Windows ignore case.
So a name is kept as it is wherever it is safe (Unicode letters included) and gets a
short hash of the exact datablock name whenever anything had to change, or when the
result would clash (ignoring case) with a name already taken. The hash depends only on
the datablock name, so the same image gets the same file on every run.
"""

from __future__ import annotations

import hashlib
import re

#: Characters no file name may hold on Windows, macOS or Linux (and control characters).
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
#: Names Windows reserves whatever the extension (``CON.png`` cannot be created).
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10))}
#: Longest stem in UTF-8 bytes: file systems allow 255 bytes, suffixes need the rest.
_MAX_STEM_BYTES = 150
_HASH_CHARS = 8


def name_hash(name: str) -> str:
    """A short, stable hash of a datablock name (tells apart names that map alike)."""
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:_HASH_CHARS]


def _readable(name: str) -> str:
    """``name`` with unsafe characters replaced, trimmed and shortened (maybe lossy)."""
    stem = _UNSAFE.sub("_", name).strip(" .")
    if stem.split(".")[0].upper() in _RESERVED:
        stem = "_" + stem
    raw = stem.encode("utf-8")[:_MAX_STEM_BYTES]
    return raw.decode("utf-8", "ignore").rstrip(" .") or "image"


def file_stem(name: str, taken: set[str] | None = None, suffix: str = "") -> str:
    """A safe file stem for the datablock ``name``; the hash is added when needed.

    ``taken`` holds the case-folded full names (stem + ``suffix``) already used in the
    same folder; the chosen name is added to it, so calling this for every image of a
    folder gives each its own file.
    """
    stem = _readable(name)
    if stem != name or (taken is not None and (stem + suffix).casefold() in taken):
        stem = f"{stem}-{name_hash(name)}"
    if taken is not None:
        index = 2
        base = stem
        while (stem + suffix).casefold() in taken:  # a hash clash: vanishingly rare
            stem, index = f"{base}-{index}", index + 1
        taken.add((stem + suffix).casefold())
    return stem
