"""Find the scene's colour textures: Image Texture nodes that feed a Principled Base Color.

The walk (``shading.upstream``) goes upstream from each Principled BSDF's Base Color
through colour-only nodes (Mix, Hue/Saturation, Gamma, Bright/Contrast, RGB Curves,
Invert, reroutes) and into and out of node groups. Only the image nodes reached this way
are ever switched, so an image that also drives roughness or a normal map keeps doing that
unchanged. Non-Color images are never stylized, whatever they feed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import bpy

from .paths import STYLIZED_SUFFIX
from .shading import is_data_image, nested_nodes, upstream

#: Nodes whose "Color" input passes colour through to their "Color" output.
_COLOR_PASS = {"HUE_SAT", "GAMMA", "BRIGHTCONTRAST", "CURVE_RGB", "INVERT"}


@dataclass(frozen=True)
class NodeRef:
    """An image node by name, so a run that outlives an edit never holds a stale pointer."""

    material: str | None  # owner material of an embedded tree, None for a node group
    group: str | None
    node: str

    @staticmethod
    def of(node, material) -> NodeRef:
        tree = node.id_data
        if tree.is_embedded_data:
            return NodeRef(material.name, None, node.name)
        return NodeRef(None, tree.name, node.name)

    def resolve(self):
        """The node now, or None when its material, group or the node itself is gone."""
        owner = (bpy.data.materials.get(self.material) if self.material
                 else bpy.data.node_groups.get(self.group or ""))
        tree = getattr(owner, "node_tree", owner) if self.material else owner
        return tree.nodes.get(self.node) if tree is not None else None


@dataclass
class TextureUse:
    """One original image datablock and every image node (in any tree) to switch for it."""

    image: bpy.types.Image
    nodes: list[NodeRef] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)  # for reports
    name: str = field(init=False, default="")

    def live_image(self) -> bpy.types.Image | None:
        """The original image now (looked up again: the run may have outlived edits)."""
        return bpy.data.images.get(self.name)

    def __post_init__(self) -> None:
        self.name = self.image.name


@dataclass
class Discovery:
    """Result of a scan: the textures to stylize and the images skipped, with reasons."""

    textures: list[TextureUse]
    skipped: dict[str, str]  # image name -> why


def original_of(image: bpy.types.Image) -> bpy.types.Image:
    """The original datablock behind a stylized image (the image itself otherwise)."""
    original = image.get("restyle_original")
    return original if isinstance(original, bpy.types.Image) else image


def is_stylized(image: bpy.types.Image) -> bool:
    """True for an image this add-on made (it references its original)."""
    return isinstance(image.get("restyle_original"), bpy.types.Image)


def skip_reason(image: bpy.types.Image) -> str | None:
    """Why an image cannot be stylized, or None when it can."""
    if image.library is not None:
        return f"linked from {image.library.filepath}; make it local (Object > Relations)"
    if is_data_image(image):
        return f"colour space is {image.colorspace_settings.name} (data, not colour)"
    if image.source in {"MOVIE", "SEQUENCE", "TILED", "VIEWER"}:
        return f"{image.source.lower()} images are not supported"
    if image.source == "FILE" and image.packed_file is None:
        path = bpy.path.abspath(image.filepath, library=image.library)
        if not image.filepath or not os.path.isfile(path):
            return f"file not found: {path or '(no path)'}; relink it (File > External Data)"
    return None


def _colour_inputs(node, _output) -> list:
    """The inputs a colour-only node passes colour through from (``shading.upstream``)."""
    if node.type in _COLOR_PASS:
        return [node.inputs["Color"]]
    if node.type == "MIX_RGB" or (node.type == "MIX" and node.data_type == "RGBA"):
        return [inp for inp in node.inputs if inp.type == "RGBA" and inp.enabled]
    return []  # an image (the end of the walk) or a node that changes what colour means


def base_color_image_nodes(material) -> list:
    """Image Texture nodes feeding any Principled BSDF's Base Color in ``material``.

    Principled nodes inside node groups count too (a studio's shader group).
    """
    starts = [(node.inputs["Base Color"], stack)
              for node, stack in nested_nodes(material.node_tree)
              if node.type == "BSDF_PRINCIPLED"]
    return [node for node, out in upstream(starts, _colour_inputs)
            if node.type == "TEX_IMAGE" and out.name == "Color" and node.image is not None]


def discover(materials) -> Discovery:
    """Group the colour image nodes of ``materials`` by original image datablock."""
    by_image: dict[str, TextureUse] = {}
    skipped: dict[str, str] = {}
    for mat in materials:
        for node in base_color_image_nodes(mat):
            image = original_of(node.image)
            reason = skip_reason(image)
            if reason:
                skipped[image.name] = reason
                continue
            use = by_image.setdefault(image.name_full, TextureUse(image))
            ref = NodeRef.of(node, mat)
            if ref not in use.nodes:
                use.nodes.append(ref)
            if mat.name not in use.materials:
                use.materials.append(mat.name)
    return Discovery(list(by_image.values()), skipped)


def stylized_name(image: bpy.types.Image) -> str:
    """The datablock name of an image's stylized version."""
    return image.name + STYLIZED_SUFFIX
