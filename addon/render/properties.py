"""Scene settings for renders (``scene.restyle_render``): previews, render-aware training, scale."""

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty

from .views import ENGINES

_ENGINE_TEXT = {
    "CYCLES": ("Cycles", "Cycles on the CPU at a few samples: the scene's own lighting"),
    "WORKBENCH": ("Workbench", "Workbench with texture colours and studio light: fastest"),
}
_ENGINE_ITEMS = [(e, *_ENGINE_TEXT[e]) for e in ENGINES]


class RestyleRenderSettings(bpy.types.PropertyGroup):
    """How Restyle renders the scene for previews, training content and texel density."""

    preview_size: IntProperty(
        name="Preview Size", description="Longest side of the stylized preview, in pixels",
        default=512, min=64, max=4096,
    )
    render_aware: BoolProperty(
        name="Train on Renders",
        description="Add renders of the scene (active camera plus views around the "
        "selection or the whole scene) to the training content, so the style is learnt "
        "on what the viewer sees, not only on flat UV sheets",
        default=True,
    )
    render_count: IntProperty(
        name="Renders", description="How many views to render for training (the active "
        "camera counts as one)", default=4, min=1, max=32,
    )
    render_size: IntProperty(
        name="Render Size", description="Longest side of each training render, in pixels",
        default=384, min=64, max=2048,
    )
    engine: EnumProperty(
        name="Engine", items=_ENGINE_ITEMS, default="CYCLES",
    )
    samples: IntProperty(
        name="Samples", description="Cycles samples per pixel for previews and renders",
        default=4, min=1, max=64,
    )
    consistent_scale: BoolProperty(
        name="Consistent Stroke Scale",
        description="Measure each texture's texel density in the views (UV pass) and "
        "stylize it at the scale that gives brush strokes the same size on screen",
        default=True,
    )
    target_stroke_scale: FloatProperty(
        name="Stroke Size", description="Stroke size on screen: 1 is the style's own size "
        "on a texture of the scene's typical texel density; 2 doubles it",
        default=1.0, min=0.25, max=4.0,
    )
    density_size: IntProperty(
        name="Density Render Size", description="Longest side of the UV-pass renders that "
        "measure texel density, in pixels", default=256, min=64, max=1024,
    )


classes = (RestyleRenderSettings,)
