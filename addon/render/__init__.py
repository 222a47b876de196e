"""Renders of the scene: stylized previews, render-aware training and texel density.

``properties`` has ``scene.restyle_render``; ``preview`` the ``restyle.preview``
operator; ``content.prepare_render_content`` is what the Stylize operators call to add
renders to the training content and pick each texture's stroke scale.
"""
