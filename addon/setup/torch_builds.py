"""Which torch build to install: CPU by default, CUDA or ROCm where the machine has them.

PyPI's torch for Linux bundles CUDA (several GB); PyTorch's own index serves the CPU-only
and the CUDA/ROCm builds (versions tagged ``+cpu``, ``+cu128``, ...). pip takes the
higher-tagged build from an extra index, so one ``--extra-index-url`` picks the build.
The CUDA and ROCm indexes must offer the torch version pinned in requirements-worker.txt:
check them when that pin moves.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

PYTORCH_INDEX = "https://download.pytorch.org/whl/"
#: Build -> (label, PyTorch index folder, platforms that have it)
BUILDS = {
    "CPU": ("CPU", "cpu", ("linux", "win32", "darwin")),
    "CUDA": ("NVIDIA GPU (CUDA)", "cu128", ("linux", "win32")),
    "ROCM": ("AMD GPU (ROCm)", "rocm6.4", ("linux",)),
}
#: Free disk space a build needs while installing (download + unpacked environment).
NEEDED_BYTES = {"CPU": 2 * 2**30, "CUDA": 8 * 2**30, "ROCM": 12 * 2**30}


def build_label(build: str, platform: str = sys.platform) -> str:
    """The name shown in the UI (on macOS the PyPI build also drives the Apple GPU)."""
    if build == "CPU" and platform == "darwin":
        return "CPU and Apple GPU (Metal)"
    return BUILDS[build][0]


def available_builds(platform: str = sys.platform) -> list[str]:
    """The builds worth offering here: CUDA with an NVIDIA driver, ROCm with ROCm installed."""
    found = ["CPU"]
    if platform in BUILDS["CUDA"][2] and shutil.which("nvidia-smi"):
        found.append("CUDA")
    if platform in BUILDS["ROCM"][2] and (shutil.which("rocminfo") or Path("/opt/rocm").is_dir()):
        found.append("ROCM")
    return found


def check_build(build: str, platform: str = sys.platform) -> None:
    """ValueError naming what to choose when a build does not exist for this platform."""
    if build not in BUILDS:
        raise ValueError(f"Unknown torch build '{build}': use one of {', '.join(BUILDS)}.")
    if platform not in BUILDS[build][2]:
        raise ValueError(f"PyTorch has no {BUILDS[build][0]} build for {platform}; choose CPU.")


def index_url(build: str) -> str:
    """PyTorch's index for a build."""
    return PYTORCH_INDEX + BUILDS[build][1]


def probe_args(pin: str, report: Path) -> list[str]:
    """pip arguments that resolve (without installing) which torch pip's own sources offer."""
    return ["install", "--dry-run", "--no-deps", "--ignore-installed", "--quiet",
            "--disable-pip-version-check", "--report", str(report), pin]


def offers_build(report: str, build: str, platform: str = sys.platform) -> bool:
    """True when a probe's JSON report shows pip's own sources already have ``build``.

    On Linux an untagged torch is PyPI's CUDA build, so CPU needs PyTorch's index unless
    the sources (a mirror, a wheel cache) hold a ``+cpu`` build; elsewhere PyPI's torch is
    the CPU (macOS: CPU + Metal) build.
    """
    if build != "CPU":
        return False
    if platform != "linux":
        return True
    try:
        installs = json.loads(report).get("install", [])
    except ValueError:
        return False
    versions = [str(i.get("metadata", {}).get("version", "")) for i in installs]
    return any(v.endswith("+cpu") for v in versions)


def index_args(build: str, sources_have_build: bool) -> list[str]:
    """The pip arguments that make the requirements resolve to ``build``."""
    return [] if sources_have_build else ["--extra-index-url", index_url(build)]
