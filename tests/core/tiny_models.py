"""Small real generators and image files for the inference tests (not fixtures: plain helpers).

An untrained generator is the identity (its head starts at zero), which would
hide tiling and norm bugs, so the head gets small random weights.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from core.model.generator import build_generator
from core.store import StyleModel, load_model, save_model

ROOT = Path(__file__).resolve().parents[2]
TINY_ARCH = {"width": 8, "deep_width": 16, "blocks": 1}


def tiny_generator(seed: int = 0, head_std: float = 0.05) -> torch.nn.Module:
    """A randomly initialised, non-identity generator in eval mode, with random patches
    for the painting's marks."""
    torch.manual_seed(seed)
    generator = build_generator(**TINY_ARCH)
    torch.nn.init.normal_(generator.head.weight, std=head_std)
    generator.set_marks(torch.randn_like(generator.mark_bank), contrast=head_std)
    return with_typical_variances(generator).eval()


def with_typical_variances(generator: torch.nn.Module) -> torch.nn.Module:
    """``generator`` with random typical variances in its floored norms: a new generator's
    are zero until it trains, which leaves the floor (and its bugs) out of play."""
    for module in generator.modules():
        if getattr(module, "floor", 0):
            module.typical_var.uniform_(0.5, 2.0)
    return generator


def tiny_model(folder: Path, seed: int = 0) -> StyleModel:
    """Save a tiny generator into ``folder`` and load it back through the store."""
    save_model(tiny_generator(seed), {"description": "tiny test model"}, folder)
    return load_model(str(folder), "cpu")


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A non-tileable float32 RGB image: gradients plus mild noise, values in 0..1."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([y / height, x / width, (x + y) / (height + width)], -1)
    return np.clip(base * 0.8 + 0.1 + rng.normal(0, 0.02, base.shape), 0, 1).astype(np.float32)


def tileable_image(size: int, seed: int = 0) -> np.ndarray:
    """A float32 RGB texture that wraps seamlessly (integer-period sinusoids)."""
    rng = np.random.default_rng(seed)
    t = np.arange(size, dtype=np.float32) * 2 * np.pi / size
    channels = []
    for _ in range(3):
        fy, fx = rng.integers(1, 4, 2)
        phase = rng.random() * 2 * np.pi
        channels.append(0.5 + 0.35 * np.sin(fy * t[:, None] + phase) * np.cos(fx * t[None, :]))
    return np.stack(channels, -1).astype(np.float32)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def run_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m core ARGS`` in a fresh process, as other tools call it."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)
