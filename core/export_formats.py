"""The export file formats and texture encodings: one record each, in one registry each.

Everything that differs between them reads it from here: the Export for VR panel's
choices (the ids are the add-on's ``restyle_export.file_format`` and ``image_format``
enum values), the file suffix, which Blender exporter writes the file (and so whether
glTF extensions such as unlit materials, Draco and WebP apply), how the report reads
textures back, and the ``--format`` / ``--image-format`` values of ``python -m core
batch``. A new format is one more record (plus its exporter call and read-back in the
add-on, keyed on ``Format.gltf``). Standard library only, like ``protocol.py``: the
add-on imports it without torch (as ``...core.export_formats``), the batch without bpy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """One export file format.

    ``id`` is the ``restyle_export.file_format`` enum value (for the glTF formats also
    the glTF exporter's ``export_format``).
    """

    id: str
    short: str  # the name in messages
    label: str
    description: str
    suffix: str  # with the dot; the output path always gets it
    gltf: bool  # written by the glTF exporter: KHR extensions, Draco and WebP apply

    @property
    def option(self) -> str:
        """The batch's ``--format`` value: the suffix without its dot."""
        return self.suffix[1:]


FORMATS: dict[str, Format] = {fmt.id: fmt for fmt in (
    Format("GLB", "GLB", "glTF Binary (.glb)", "One file: Unity, Unreal, Godot, three.js/WebXR",
           ".glb", gltf=True),
    Format("GLTF_SEPARATE", "glTF", "glTF Separate (.gltf)", ".gltf + .bin + texture files",
           ".gltf", gltf=True),
    Format("USDZ", "USDZ", "USDZ (.usdz)", "Apple Vision Pro / Quick Look", ".usdz", gltf=False),
)}


@dataclass(frozen=True)
class ImageFormat:
    """One encoding of the exported textures (``id``: the ``restyle_export.image_format``
    enum value, also Blender's ``Image.file_format``)."""

    id: str
    label: str
    description: str
    suffix: str  # of the exported texture files, with the dot
    mime: str  # how a file's own bytes identify it (they are copied when they already fit)

    @property
    def option(self) -> str:
        """The batch's ``--image-format`` value."""
        return self.id.lower()


IMAGE_FORMATS: dict[str, ImageFormat] = {fmt.id: fmt for fmt in (
    ImageFormat("JPEG", "JPEG", "Smallest files; textures with transparency stay PNG", ".jpg",
                "image/jpeg"),
    ImageFormat("PNG", "PNG", "Lossless", ".png", "image/png"),
    ImageFormat("WEBP", "WebP", "Small, but Unity's glTFast cannot read it", ".webp",
                "image/webp"),
)}


def enum_items(registry: dict[str, Format] | dict[str, ImageFormat]
               ) -> tuple[tuple[str, str, str], ...]:
    """``(id, label, description)`` per record, for an ``EnumProperty``."""
    return tuple((fmt.id, fmt.label, fmt.description) for fmt in registry.values())
