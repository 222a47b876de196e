"""Renders of the scene: stylized previews, render-aware training and texel density.

``properties`` adds ``scene.restyle_render``; ``preview`` the ``restyle.preview``
operator; ``content.prepare_render_content`` is what the Stylize operators call to add
renders to the training content and pick each texture's stroke scale.
"""

from importlib import import_module

_SUBMODULES = (".properties", ".preview", ".ui")


def _modules() -> list:
    return [import_module(name, __package__) for name in _SUBMODULES]


def register() -> None:
    """Register the render settings, the preview operator and its panel."""
    for module in _modules():
        module.register()


def unregister() -> None:
    """Undo ``register``."""
    for module in reversed(_modules()):
        module.unregister()
