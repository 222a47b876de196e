"""Export for VR: GLB/glTF/USDZ with the stylized textures, a texture budget and a report.

Scripts call ``bpy.ops.restyle.export_vr(filepath=...)`` (settings from
``scene.restyle_export``) or ``vr_export.export_vr(context, ExportOptions(...))``.
The formats are ``core/export_formats.py``'s ``FORMATS`` (files) and ``IMAGE_FORMATS``
(textures).
"""
