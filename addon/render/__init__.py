"""Renders of the scene: stylized previews, render-aware training and texel density.

``properties`` adds ``scene.restyle_render``; ``preview`` the ``restyle.preview``
operator; ``content.prepare_render_content`` is what the Stylize operators call to add
renders to the training content and pick each texture's stroke scale.
"""

from ..submodules import register_all, unregister_all

_SUBMODULES = (".properties", ".preview", ".ui")


def register() -> None:
    """Register the render settings, the preview operator and its panel."""
    register_all(__package__, _SUBMODULES)


def unregister() -> None:
    """Undo ``register``."""
    unregister_all(__package__, _SUBMODULES)
