"""Download the worker's wheels into a folder, for studios whose Blender machines are offline.

Run on any machine with internet (and pip), then copy the folder over and use
*Preferences > Add-ons > Restyle > Install from Wheel Folder...* (or
``bpy.ops.restyle.setup_worker(directory=FOLDER)``) on the offline machine::

    python scripts/download_wheels.py wheels/                        # this machine's platform
    python scripts/download_wheels.py wheels/ --platform windows --python-version 3.11
    python scripts/download_wheels.py wheels/ --platform linux --build CUDA

The wheels match the Python of the target Blender (3.11 for Blender 4.2-5.0, 3.13 from
5.1) and its platform; the requirements are the ones shipped in the extension.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from addon.setup import env, torch_builds  # noqa: E402  (needs ROOT on sys.path)

#: --platform presets -> (pip platform tags, sys.platform of that target)
PLATFORMS = {
    "linux": (["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
               "linux_x86_64"], "linux"),
    "windows": (["win_amd64"], "win32"),
    "macos": (["macosx_14_0_arm64", "macosx_12_0_arm64", "macosx_11_0_arm64"], "darwin"),
}


def target_args(platform: str | None, python_version: str | None) -> list[str]:
    """pip options that pick wheels for another machine (none: this one)."""
    args = ["--only-binary=:all:"]
    for tag in PLATFORMS[platform][0] if platform else []:
        args += ["--platform", tag]
    if platform or python_version:
        args += ["--python-version", python_version or f"{sys.version_info[0]}."
                 f"{sys.version_info[1]}", "--implementation", "cp"]
    return args


def torch_index(build: str, platform: str, target: list[str], requirements: Path) -> list[str]:
    """The extra index for the torch build, unless pip's own sources already have it."""
    pin = env.torch_pin(requirements)
    if pin is None:
        return []
    if build != "CPU" or platform != "linux":
        return torch_builds.index_args(build, torch_builds.offers_build("", build, platform))
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp, "report.json")
        probe = [sys.executable, "-m", "pip", *torch_builds.probe_args(pin, report), *target,
                 "--target", str(Path(tmp, "t"))]
        done = subprocess.run(probe, capture_output=True, text=True)
        text = report.read_text(encoding="utf-8") if done.returncode == 0 else ""
    return torch_builds.index_args(build, torch_builds.offers_build(text, build, platform))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where to put the wheels")
    parser.add_argument("--platform", choices=sorted(PLATFORMS),
                        help="target platform (default: this machine)")
    parser.add_argument("--python-version", help="target Python, e.g. 3.11 (default: this one)")
    parser.add_argument("--build", choices=sorted(torch_builds.BUILDS), default="CPU",
                        help="torch build (default CPU)")
    parser.add_argument("--requirements", type=Path, default=env.REQUIREMENTS,
                        help="requirements file (default: the extension's worker pins)")
    args = parser.parse_args(argv)
    platform = PLATFORMS[args.platform][1] if args.platform else sys.platform
    try:
        torch_builds.check_build(args.build, platform)
    except ValueError as exc:
        parser.error(str(exc))
    target = target_args(args.platform, args.python_version)
    args.folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
               "-r", str(args.requirements), "-d", str(args.folder), *target,
               *torch_index(args.build, platform, target, args.requirements)]
    print("$", subprocess.list2cmdline(command), flush=True)
    code = subprocess.call(command)
    if code == 0:
        count = len(list(args.folder.glob("*.whl")))
        print(f"{count} wheels in {args.folder}: copy the folder to the offline machine and "
              "pick it with Install from Wheel Folder.")
    return code


if __name__ == "__main__":
    sys.exit(main())
