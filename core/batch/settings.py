"""``python -m core batch`` arguments, and the settings every scene of one batch shares.

Importing this module is cheap (argparse only): ``core.cli`` builds its parser from it
without loading Ray, so the other commands stay fast. Everything wrong with the command
line (no scenes, clashing names, an output that would overwrite an input) is a
``UsageError`` found here, before Ray or Blender start.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import UsageError
from ..export_formats import FORMATS, IMAGE_FORMATS
from ..training.options import train_overrides

#: ``--format`` (the file suffix) -> the export format (its id: ``restyle_export.file_format``).
FORMAT_OPTIONS = {fmt.option: fmt for fmt in FORMATS.values()}
#: ``--image-format`` -> the add-on's ``restyle_export.image_format``.
IMAGE_FORMAT_OPTIONS = {fmt.option: fmt.id for fmt in IMAGE_FORMATS.values()}
#: Test hook: a scene path here makes that scene's first Blender process SIGKILL itself.
KILL_HOOK_ENV = "RESTYLE_BATCH_TEST_KILL"
#: Where the batch keeps its own files inside DIR: per-scene done records, the zip build.
STATE_DIR = ".restyle-batch"


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """The batch-only options (``core.cli`` adds the stylize and training ones)."""
    parser.add_argument("scenes", nargs="+", metavar="SCENE", type=Path,
                        help=".blend files, or folders searched for them")
    parser.add_argument("--out", required=True, metavar="DIR", type=Path,
                        help="output folder: <stem>.blend, its textures, exports, batch.json")
    style = parser.add_mutually_exclusive_group(required=True)
    style.add_argument("--style", metavar="NAME_OR_DIR",
                       help="a shipped or cached style name, or a model folder")
    style.add_argument("--style-image", nargs="+", metavar="IMG", type=Path,
                       help="train one model on these paintings and all scenes' textures")
    parser.add_argument("--max-size", type=int, metavar="PX",
                        help="stylize textures at most this large (the add-on's Max Texture Size)")
    parser.add_argument("--format", choices=sorted(FORMAT_OPTIONS), default="glb")
    parser.add_argument("--max-texture-size", type=int, metavar="PX",
                        help="export budget: longest side of any exported texture")
    parser.add_argument("--power-of-two", action="store_true",
                        help="export textures at power-of-two sizes")
    parser.add_argument("--image-format", choices=sorted(IMAGE_FORMAT_OPTIONS),
                        help="exported texture format (default: the add-on's)")
    parser.add_argument("--quality", type=int, metavar="Q", help="JPEG/WebP quality")
    parser.add_argument("--unlit", action="store_true", help="KHR_materials_unlit materials")
    parser.add_argument("--draco", action="store_true", help="Draco mesh compression")
    parser.add_argument("--address", default="", metavar="ADDRESS",
                        help="Ray cluster: empty = a local instance for this run, 'auto' or "
                        "HOST:PORT = an existing cluster")
    parser.add_argument("--workers", type=int, metavar="N", help="at most N scenes at once")
    parser.add_argument("--blender", metavar="PATH",
                        help="a Blender binary per scene (default: the bpy module of this Python)")


@dataclass
class BatchSettings:
    """One batch: the scenes, where results go, the style and the per-scene settings."""

    scenes: list[Path]
    out: Path
    style: str | None
    style_images: list[Path]
    look: dict  # the add-on's stylize settings: strength, preserve_color, max_size, seamless
    export: dict  # restyle_export properties to set (None values keep the add-on default)
    train: dict  # TrainSettings overrides for --style-image
    device: str = "auto"
    address: str = ""
    workers: int | None = None
    blender: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> BatchSettings:
        out = args.out.expanduser().resolve()
        scenes = collect_scenes(args.scenes, out)
        style_images = [p.expanduser().resolve() for p in args.style_image or ()]
        for path in style_images:
            if not path.is_file():
                raise UsageError(f"Style image {path} does not exist; check --style-image.")
        if args.workers is not None and args.workers < 1:
            raise UsageError(f"--workers {args.workers}: give at least 1.")
        if args.blender and not Path(args.blender).is_file():
            raise UsageError(f"Blender binary {args.blender} does not exist; check --blender.")
        look = {"strength": args.strength, "preserve_color": args.preserve_color,
                "max_size": args.max_size, "seamless": args.seamless}
        export = {"file_format": FORMAT_OPTIONS[args.format].id,
                  "max_texture_size": args.max_texture_size,
                  "power_of_two": args.power_of_two,
                  "image_format": IMAGE_FORMAT_OPTIONS.get(args.image_format or ""),
                  "quality": args.quality, "unlit": args.unlit, "draco": args.draco}
        train = train_overrides(args)
        return cls(scenes=scenes, out=out, style=args.style, style_images=style_images,
                   look=look, export=export, train=train, device=args.device,
                   address=args.address, workers=args.workers, blender=args.blender)

    def export_properties(self) -> dict:
        """The ``restyle_export`` properties to set in Blender (unset ones keep defaults)."""
        return {k: v for k, v in self.export.items() if v is not None}

    def look_properties(self) -> dict:
        return {k: v for k, v in self.look.items() if v is not None}

    def key(self, blend_sha: str, model_sha: str) -> str:
        """What a finished scene is keyed on: its .blend, the model and every setting."""
        data = {"blend": blend_sha, "model": model_sha, "look": self.look,
                "export": self.export, "device": self.device, "version": __version__}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def outputs(self, stem: str) -> dict[str, Path]:
        """Where one scene's results go inside DIR."""
        suffix = FORMATS[self.export["file_format"]].suffix
        return {"blend_out": self.out / f"{stem}.blend",
                "textures_dir": self.out / f"{stem}_textures",
                "export": self.out / f"{stem}{suffix}",
                "log": self.out / "logs" / f"{stem}.log"}


def collect_scenes(paths: list[Path], out: Path) -> list[Path]:
    """The .blend files named or found (recursively) in folders, outside ``out``, by stem.

    Two scenes with the same file name would write the same outputs, and a scene inside
    ``out`` could be an earlier run's result, so both are refused with the paths named.
    """
    found: list[Path] = []
    for raw in paths:
        path = raw.expanduser().resolve()
        if path.is_dir():
            inside = sorted(p.resolve() for p in path.rglob("*.blend")
                            if p.is_file() and not p.resolve().is_relative_to(out))
            if not inside:
                raise UsageError(f"Folder {path} holds no .blend files; give scenes or a "
                                 "folder that has some.")
            found += inside
        elif path.is_file():
            if path.suffix.lower() != ".blend":
                raise UsageError(f"{path} is not a .blend file; give .blend files or folders.")
            if path.is_relative_to(out):
                raise UsageError(f"Scene {path} is inside the output folder {out}; choose "
                                 "another --out so no input can be overwritten.")
            found.append(path)
        else:
            raise UsageError(f"Scene {path} does not exist; check the path.")
    by_stem: dict[str, Path] = {}
    for path in dict.fromkeys(found):
        if path.stem in by_stem:
            raise UsageError(f"Scenes {by_stem[path.stem]} and {path} have the same name and "
                             f"would both be written to {out / path.name}; rename one or run "
                             "them in separate batches.")
        by_stem[path.stem] = path
    return list(by_stem.values())
