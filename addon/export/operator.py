"""``restyle.export_vr``: the button in the panel and the call for scripts."""

from __future__ import annotations

import bpy
from bpy.props import StringProperty

from ..errors import REPORTED
from .properties import BLEND_RELATIVE
from .vr_export import export_vr


class RESTYLE_OT_export_vr(bpy.types.Operator):
    """Export the scene or selection for VR engines, within the texture budget"""

    bl_idname = "restyle.export_vr"
    bl_label = "Export for VR"
    bl_options = {"REGISTER"}

    filepath: StringProperty(
        name="File", subtype="FILE_PATH", default="", options={"SKIP_SAVE", *BLEND_RELATIVE},
        description="Output file (empty: the scene's Export for VR setting)")

    def execute(self, context):
        settings = context.scene.restyle_export
        try:
            report = export_vr(context, settings.options(self.filepath))
        except REPORTED as exc:  # ExportError and the like: the message says what to do
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        settings.store_summary(report)
        for warning in report["warnings"]:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"Exported {report['file']} ({report['total_bytes'] / 1e6:.2f} MB, "
                              f"{len(report['textures'])} textures); report: "
                              f"{report['report_file']}")
        return {"FINISHED"}


classes = (RESTYLE_OT_export_vr,)
