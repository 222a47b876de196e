"""The Renders sub-panel of the Restyle sidebar: preview button and render settings."""

from __future__ import annotations

import bpy

from ..ui import RestyleSubPanel


class RESTYLE_PT_render(RestyleSubPanel, bpy.types.Panel):
    """Stylized preview, render-aware training and stroke scale settings."""

    bl_label = "Renders & Preview"
    bl_idname = "RESTYLE_PT_render"

    def draw(self, context) -> None:
        settings = context.scene.restyle_render
        layout = self.layout
        layout.use_property_split = True
        row = layout.row(align=True)
        row.operator("restyle.preview", icon="RENDER_STILL")
        row.prop(settings, "preview_size", text="")
        layout.prop(settings, "engine")
        if settings.engine == "CYCLES":
            layout.prop(settings, "samples")
        layout.prop(settings, "render_aware")
        col = layout.column(align=True)
        col.active = settings.render_aware
        col.prop(settings, "render_count")
        col.prop(settings, "render_size")
        layout.prop(settings, "consistent_scale")
        col = layout.column(align=True)
        col.active = settings.consistent_scale
        col.prop(settings, "target_stroke_scale")
        col.prop(settings, "density_size")


classes = (RESTYLE_PT_render,)
