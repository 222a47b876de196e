"""The "Export for VR" sub-panel of the Restyle sidebar."""

from __future__ import annotations

import bpy

from ..ui import RestyleSubPanel


def _mb(value: float) -> str:
    return f"{value / 1e6:.1f} MB"


class RESTYLE_PT_export_vr(RestyleSubPanel, bpy.types.Panel):
    """Format, texture budget and the last export's figures."""

    bl_label = "Export for VR"
    bl_idname = "RESTYLE_PT_export_vr"

    def draw(self, context) -> None:
        settings = context.scene.restyle_export
        layout = self.layout
        layout.use_property_split = True
        layout.prop(settings, "file_format")
        layout.prop(settings, "filepath")
        layout.prop(settings, "selected_only")
        col = layout.column(heading="Textures", align=True)
        col.prop(settings, "max_texture_size")
        col.prop(settings, "power_of_two")
        col.prop(settings, "image_format")
        if settings.image_format != "PNG":
            col.prop(settings, "quality")
        if settings.image_format == "WEBP":
            col.label(text="Unity's glTFast cannot read WebP", icon="ERROR")
        col = layout.column(align=True)
        col.active = settings.export_format().gltf  # unlit and Draco are glTF extensions
        col.prop(settings, "unlit")
        col.prop(settings, "draco")
        layout.operator("restyle.export_vr", icon="EXPORT")
        summary = settings.summary()
        if summary:
            self._draw_summary(layout.box(), summary)

    @staticmethod
    def _draw_summary(box, summary: dict) -> None:
        box.label(text=bpy.path.basename(summary["file"]) + f"  {_mb(summary['total_bytes'])}",
                  icon="FILE_3D")
        box.label(text=f"{summary['textures']} textures, {_mb(summary['texture_bytes'])} in "
                       f"file, ~{_mb(summary['gpu_texture_bytes'])} GPU")
        box.label(text=f"{summary['triangles']:,} triangles, {summary['materials']} materials, "
                       f"{summary['draw_calls']} draw calls")
        for warning in summary["warnings"]:
            box.label(text=warning, icon="ERROR")


classes = (RESTYLE_PT_export_vr,)
