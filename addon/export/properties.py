"""Export settings on the scene (``scene.restyle_export``) and the last export's summary."""

from __future__ import annotations

import json

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from ...core.export_formats import FORMATS, IMAGE_FORMATS, enum_items
from .budget import Budget
from .vr_export import ExportOptions

# Blender 5.0 warns about "//" paths unless the property says it supports them (4.2 lacks
# the flag and would refuse to register it).
BLEND_RELATIVE = {"PATH_SUPPORTS_BLEND_RELATIVE"} if bpy.app.version >= (5, 0, 0) else set()
SUMMARY_KEYS = ("file", "total_bytes", "texture_bytes", "gpu_texture_bytes", "triangles",
                "materials", "draw_calls", "warnings", "report_file", "export_seconds")


class RestyleExportSettings(bpy.types.PropertyGroup):
    """What the Export for VR panel edits; ``options()`` turns it into ExportOptions."""

    filepath: StringProperty(
        name="File", subtype="FILE_PATH", default="//restyle_vr.glb", options=BLEND_RELATIVE,
        description="Output file; '//' is the folder of the .blend. The suffix follows "
                    "the format")
    file_format: EnumProperty(name="Format", default="GLB", items=enum_items(FORMATS))
    selected_only: BoolProperty(
        name="Selected Only", default=False,
        description="Export only the selected objects instead of the whole scene")
    max_texture_size: IntProperty(
        name="Max Texture Size", default=2048, min=16, max=16384,
        description="Longest side of any exported texture (2048 suits standalone headsets)")
    power_of_two: BoolProperty(
        name="Power of Two", default=False,
        description="Resize textures to power-of-two sizes (full mipmaps everywhere)")
    image_format: EnumProperty(name="Image Format", default="JPEG",
                               items=enum_items(IMAGE_FORMATS))
    quality: IntProperty(name="Quality", default=90, min=1, max=100,
                         description="JPEG/WebP quality")
    unlit: BoolProperty(
        name="Unlit", default=False,
        description="KHR_materials_unlit: show the painted colour as is, for looks that "
                    "already carry their lighting")
    draco: BoolProperty(name="Draco", default=False,
                        description="Draco mesh compression (glTF only)")
    last_summary: StringProperty(
        name="Last Export", default="",
        description="JSON summary of the last export, shown in the panel")

    def options(self, filepath: str = "") -> ExportOptions:
        """ExportOptions from these settings (``filepath`` overrides the stored one)."""
        budget = Budget(self.max_texture_size, self.power_of_two, self.image_format,
                        self.quality)
        return ExportOptions(filepath or self.filepath, self.file_format, self.selected_only,
                             self.unlit, self.draco, budget)

    def export_format(self):
        """The chosen format's ``Format`` record (``core/export_formats.py``)."""
        return FORMATS[self.file_format]

    def store_summary(self, report: dict) -> None:
        summary = {key: report[key] for key in SUMMARY_KEYS}
        summary["textures"] = len(report["textures"])
        self.last_summary = json.dumps(summary)

    def summary(self) -> dict | None:
        return json.loads(self.last_summary) if self.last_summary else None


classes = (RestyleExportSettings,)
