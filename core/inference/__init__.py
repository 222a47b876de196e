"""Inference: image IO in any mode (``imageio``, no torch), tiled seamless stylizing
(``tiling``), and the array- and file-level entry points (``stylize``)."""
