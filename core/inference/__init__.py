"""Inference: image IO in any mode, tiled seamless stylizing, and the file-level entry point."""

from .stylize import StylizeSettings, stylize_array, stylize_file

__all__ = ["StylizeSettings", "stylize_array", "stylize_file"]
