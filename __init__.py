"""Restyle: Blender extension entry point; all add-on code lives in ``addon``."""

from .addon import register, unregister

__all__ = ["register", "unregister"]
