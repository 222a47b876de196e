"""The one place that walks the scene's shading and says what kind each image is.

Objects -> the materials they use -> the node trees of those materials (into node groups,
however deep) -> their nodes; the upstream walk from a socket along enabled links, into
and out of node groups; whether an image holds colour or data; which object types have
geometry. Discovery, write-back, Revert, the texture budget and the export report all
walk through here, so a new node type or colour-space rule is one change.
(File names for images have their own single rule: ``names.file_stem``.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import bpy

#: Object types with geometry: what renders show and exporters write as meshes.
GEOMETRY_TYPES = frozenset({"MESH", "CURVE", "SURFACE", "FONT", "META"})
#: Colour spaces that hold data rather than colour (names differ across OCIO configs).
DATA_SPACES = frozenset({"Non-Color", "Raw", "Generic Data", "Linear Data", "Data"})
#: How deep ``nested_nodes`` follows node groups inside node groups.
MAX_GROUP_DEPTH = 16


def is_data_image(image: bpy.types.Image) -> bool:
    """True when the image holds data (normals, roughness...) rather than colour.

    Such images are never stylized, and the export keeps them lossless (JPEG blocks in
    a normal map show up as lighting).
    """
    settings = image.colorspace_settings
    return bool(getattr(settings, "is_data", False)) or settings.name in DATA_SPACES


def has_geometry(obj: bpy.types.Object) -> bool:
    """True for the object types that carry geometry (meshes, curves, text, metaballs)."""
    return obj.type in GEOMETRY_TYPES


def object_materials(objects: Iterable) -> list[bpy.types.Material]:
    """The distinct materials in the slots of ``objects``, in a stable order."""
    found: dict[str, bpy.types.Material] = {}
    for obj in objects:
        for slot in getattr(obj, "material_slots", ()):
            if slot.material is not None:
                found.setdefault(slot.material.name_full, slot.material)
    return list(found.values())


def uses_nodes(material: bpy.types.Material) -> bool:
    """True when ``material`` renders with its node tree.

    Before 5.0 a material can keep a node tree it does not render with.
    """
    return material.node_tree is not None and (bpy.app.version >= (5, 0, 0)
                                               or material.use_nodes)


def node_materials(objects: Iterable) -> list[bpy.types.Material]:
    """The distinct materials of ``objects`` that render with nodes, in a stable order."""
    return [mat for mat in object_materials(objects) if uses_nodes(mat)]


def node_trees(materials: Iterable) -> list:
    """The node trees of ``materials`` and of every node group they use (recursively).

    Each tree once; a material's own tree comes before the groups it uses.
    """
    trees: list = []
    for mat in materials:
        if mat is None or mat.node_tree is None:
            continue
        todo = [mat.node_tree]
        while todo:
            tree = todo.pop()
            if tree in trees:
                continue
            trees.append(tree)
            todo += [n.node_tree for n in tree.nodes if n.type == "GROUP" and n.node_tree]
    return trees


def file_trees() -> list:
    """Every shader node tree in the file: all materials' trees and all shader groups."""
    groups = [g for g in bpy.data.node_groups if g.bl_idname == "ShaderNodeTree"]
    return list(dict.fromkeys(node_trees(bpy.data.materials) + groups))


def material_output(tree) -> bpy.types.Node | None:
    """The Material Output node ``tree`` renders with: the active one, else the first."""
    outputs = [n for n in tree.nodes if n.type == "OUTPUT_MATERIAL"]
    active = [n for n in outputs if n.is_active_output]
    return (active or outputs or [None])[0]


def material_nodes(materials: Iterable) -> Iterator[tuple[bpy.types.Material, bpy.types.Node]]:
    """``(material, node)`` for every node of ``materials``, inside node groups too.

    A node group used by two materials is walked for each of them.
    """
    for mat in materials:
        for tree in node_trees([mat]):
            for node in tree.nodes:
                yield mat, node


def image_nodes(materials: Iterable) -> Iterator[tuple[bpy.types.Material, bpy.types.Node]]:
    """``(material, node)`` for every Image Texture node of ``materials``."""
    return ((mat, node) for mat, node in material_nodes(materials) if node.type == "TEX_IMAGE")


def tree_image_nodes(trees: Iterable) -> Iterator[bpy.types.Node]:
    """Every Image Texture node with an image in ``trees``."""
    for tree in trees:
        for node in tree.nodes:
            if node.type == "TEX_IMAGE" and node.image is not None:
                yield node


def nested_nodes(tree, stack: tuple = ()) -> Iterator[tuple[bpy.types.Node, tuple]]:
    """``(node, enclosing group nodes)`` for every node in ``tree`` and the groups it uses.

    The group nodes on the way in are what ``upstream`` needs to lead back out of a group.
    """
    for node in tree.nodes:
        yield node, stack
        if node.type == "GROUP" and node.node_tree is not None and len(stack) < MAX_GROUP_DEPTH:
            yield from nested_nodes(node.node_tree, (*stack, node))


def linked_from(socket) -> list:
    """The enabled links arriving at ``socket``."""
    return [link for link in socket.links if not link.is_muted and link.is_valid]


def _group_output_socket(tree, output_socket):
    """The socket inside a group tree that feeds the group node's ``output_socket``."""
    outputs = [n for n in tree.nodes if n.type == "GROUP_OUTPUT"]
    active = [n for n in outputs if n.is_active_output] or outputs
    for node in active:
        for socket in node.inputs:
            if socket.identifier == output_socket.identifier:
                return socket
    return None


#: ``follow(node, output socket)`` -> the node's input sockets the walk goes on through.
Follow = Callable[[bpy.types.Node, bpy.types.NodeSocket], Sequence]


def upstream(starts: Iterable[tuple[bpy.types.NodeSocket, tuple]],
             follow: Follow) -> Iterator[tuple[bpy.types.Node, bpy.types.NodeSocket]]:
    """``(node, output socket)`` for each node upstream of the ``(socket, group stack)`` starts.

    Goes along enabled links, through reroutes, into a group node's tree (from the output
    used to the Group Output socket behind it) and back out of a Group Input (to the
    same input of the group node it was entered by). At every other node it continues
    with ``follow(node, output)``. Each (node, output, group path) is visited once, even
    across ``starts``; nodes come in depth-first order.
    """
    seen: set = set()

    def visit(socket, stack: tuple) -> Iterator:
        for link in linked_from(socket):
            node, out = link.from_node, link.from_socket
            key = (node.id_data.name_full, node.name, out.identifier,
                   tuple(n.name for n in stack))
            if key in seen:
                continue
            seen.add(key)
            if node.type == "REROUTE":
                yield from visit(node.inputs[0], stack)
            elif node.type == "GROUP":
                inner = _group_output_socket(node.node_tree, out) if node.node_tree else None
                if inner is not None:
                    yield from visit(inner, (*stack, node))
            elif node.type == "GROUP_INPUT":
                if stack:
                    for inp in stack[-1].inputs:
                        if inp.identifier == out.identifier:
                            yield from visit(inp, stack[:-1])
            else:
                yield node, out
                for inp in follow(node, out):
                    yield from visit(inp, stack)

    for socket, stack in starts:
        yield from visit(socket, stack)


def every_input(node: bpy.types.Node, _output=None) -> Sequence:
    """A ``follow`` for ``upstream`` that goes on through all of a node's inputs."""
    return node.inputs
