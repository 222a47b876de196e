"""The export formats: one ``Format`` record each, in ``FORMATS`` (the panel's order).

Everything that differs between formats reads it from here: the panel's choices, the
file suffix, which Blender exporter writes the file (and so whether glTF extensions such
as unlit materials, Draco and WebP apply) and how the report reads its textures back.
A new format is one more record (plus its exporter call and read-back, keyed on
``Format.gltf``). Free of ``bpy``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """One export format.

    ``id`` is the ``restyle_export.file_format`` enum value (for the glTF formats also
    the glTF exporter's ``export_format``).
    """

    id: str
    short: str  # the name in messages
    label: str
    description: str
    suffix: str  # with the dot; the output path always gets it
    gltf: bool  # written by the glTF exporter: KHR extensions, Draco and WebP apply


FORMATS: dict[str, Format] = {fmt.id: fmt for fmt in (
    Format("GLB", "GLB", "glTF Binary (.glb)", "One file: Unity, Unreal, Godot, three.js/WebXR",
           ".glb", gltf=True),
    Format("GLTF_SEPARATE", "glTF", "glTF Separate (.gltf)", ".gltf + .bin + texture files",
           ".gltf", gltf=True),
    Format("USDZ", "USDZ", "USDZ (.usdz)", "Apple Vision Pro / Quick Look", ".usdz", gltf=False),
)}


def enum_items() -> tuple[tuple[str, str, str], ...]:
    """``(id, label, description)`` per format, for an ``EnumProperty``."""
    return tuple((fmt.id, fmt.label, fmt.description) for fmt in FORMATS.values())
