"""Choose the torch device from a user setting (auto, cpu, cuda, mps)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import BadInput

if TYPE_CHECKING:  # imported on use: the command line (and its choices) loads without torch
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto") -> torch.device:
    """Return the device for ``name``; ``auto`` prefers cuda, then mps, then cpu."""
    import torch

    if name not in DEVICE_CHOICES:
        raise BadInput(f"Unknown device '{name}': use one of {', '.join(DEVICE_CHOICES)}.")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BadInput("Device 'cuda' was asked for but no CUDA GPU is visible; use cpu or auto.")
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise BadInput("Device 'mps' was asked for but Metal is not available; use cpu or auto.")
    return torch.device(name)
