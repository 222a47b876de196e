"""``python -m core styles|train|stylize|batch|serve``: the command line other tools rely on.

Errors a user can fix (``RestyleError``) print as one line and exit 1; bad
options (argparse's, or a ``UsageError`` found before any work starts) exit 2.
Long work shows a text progress bar on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from .device import DEVICE_CHOICES
from .errors import BadInput, RestyleError, UsageError
from .protocol import PRECISION_CHOICES
from .training.options import add_train_options, train_overrides

PROG = "python -m core"
PRECISION_HELP = "auto: bf16 where this CPU runs it fast (AVX512-BF16, AMX), else fp32"


class ProgressBar:
    """A one-line text bar on a terminal; a line per 10% step when piped to a log."""

    def __init__(self, label: str, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.label, self.stream, self.width = label, stream, width
        self.tty = stream.isatty()
        self.last_shown = -1.0
        self.start = time.monotonic()

    def __call__(self, fraction: float, phase: str, message: str) -> None:
        step = 0.01 if self.tty else 0.1
        if fraction < 1.0 and fraction - self.last_shown < step:
            return
        self.last_shown = fraction
        filled = round(fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.monotonic() - self.start
        line = f"{self.label} [{bar}] {fraction * 100:5.1f}% {elapsed:6.1f}s {phase}: {message}"
        if self.tty:
            self.stream.write("\r" + line[:120].ljust(120))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Blank the bar's line so another line can be printed on the terminal."""
        if self.tty and self.last_shown >= 0:
            self.stream.write("\r" + " " * 120 + "\r")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and self.last_shown >= 0:
            self.stream.write("\n")
            self.stream.flush()




def add_look_options(parser: argparse.ArgumentParser) -> None:
    """How the style is applied, shared by ``stylize`` and ``batch``; plus ``--device``."""
    parser.add_argument("--seamless", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--strength", type=float, default=1.0, help="0 = input, 1 = full")
    parser.add_argument("--preserve-color", action="store_true",
                        help="keep the input's colours, take the style's luminance")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")


def build_parser() -> argparse.ArgumentParser:
    from .batch.settings import add_batch_arguments

    parser = argparse.ArgumentParser(prog=PROG, description="Restyle's stylizer.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("styles", help="list the shipped and cached style models")

    train = commands.add_parser("train", help="train a style model")
    train.add_argument("--style", nargs="+", required=True, metavar="IMG", type=Path)
    train.add_argument("--content", nargs="+", required=True, metavar="PATH", type=Path,
                       help="content images, or folders of them")
    train.add_argument("--out", required=True, metavar="MODEL_DIR", type=Path)
    add_train_options(train)
    train.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    train.add_argument("--precision", choices=PRECISION_CHOICES, default="auto",
                       help=PRECISION_HELP)

    stylize = commands.add_parser("stylize", help="stylize images with a style model")
    stylize.add_argument("--model", required=True, metavar="NAME_OR_DIR")
    stylize.add_argument("inputs", nargs="+", metavar="INPUT", type=Path)
    stylize.add_argument("--out", required=True, metavar="DIR", type=Path)
    stylize.add_argument("--tile", type=int, metavar="PX",
                         help="tile core size (bounds memory, never changes the result)")
    stylize.add_argument("--scale", type=float, default=1.0, help="stroke scale factor")
    add_look_options(stylize)
    stylize.add_argument("--precision", choices=PRECISION_CHOICES, default="auto",
                         help=PRECISION_HELP)

    batch = commands.add_parser(
        "batch", help="restyle many .blend files on Ray (this machine or a cluster)",
        description="Restyle .blend files with one style model, one fresh Blender process "
        "per scene, on a local Ray instance or an existing Ray cluster; writes DIR/batch.json.")
    add_batch_arguments(batch)
    add_look_options(batch)
    add_train_options(batch)

    commands.add_parser("serve", help="run the HTTP worker (see 'serve --help')", add_help=False)
    return parser


def run_styles() -> int:
    from .store import list_styles

    styles = list_styles()
    if not styles:
        print("No style models found (none shipped in core/styles, none in the cache).")
        return 0
    width = max(len(s["name"]) for s in styles)
    for style in styles:
        print(f"{style['name']:<{width}}  {style['source']:<7}  {style['description']}  "
              f"({style['path']})")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from .training.trainer import TrainSettings, train_style

    settings = TrainSettings(device=args.device, precision=args.precision,
                             **train_overrides(args))
    bar = ProgressBar("train")
    try:
        folder = train_style(args.style, args.content, args.out, settings, progress=bar)
    finally:
        bar.close()
    print(folder)
    return 0


def output_paths(inputs: list[Path], out_dir: Path) -> list[Path]:
    """DIR/<stem>.<input's extension> (PNG for formats that cannot be written back)."""
    from PIL import Image

    Image.init()
    writable = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.SAVE}
    writable.add(".exr")
    outputs = []
    for src in inputs:
        if not src.is_file():
            raise BadInput(f"Image {src} does not exist or is not a file; check the path.")
        ext = src.suffix.lower() if src.suffix.lower() in writable else ".png"
        dst = out_dir / f"{src.stem}{ext}"
        if src.exists() and dst.resolve() == src.resolve():
            raise BadInput(f"Output {dst} would overwrite the input {src}; choose another --out.")
        if dst in outputs:
            raise BadInput(f"Inputs {inputs[outputs.index(dst)]} and {src} would both be "
                           f"written to {dst}; stylize them into different --out folders.")
        outputs.append(dst)
    return outputs


def run_stylize(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from .inference.imageio import load_image

    outputs = output_paths(args.inputs, args.out)
    # Torch takes 1-3 s to import, on one core: read the first image on the other meanwhile.
    with ThreadPoolExecutor(1) as reader:
        first = reader.submit(load_image, args.inputs[0])
        return _stylize_all(args, outputs, first.result)


def _stylize_all(args: argparse.Namespace, outputs: list[Path],
                 first_image: Callable[[], object]) -> int:
    """Stylize every input; ``first_image()`` is the first input, read ahead."""
    from .inference.stylize import StylizeSettings, stylize_file
    from .store import load_model

    tile = {} if args.tile is None else {"tile": args.tile}
    settings = StylizeSettings(seamless=args.seamless, strength=args.strength,
                               preserve_color=args.preserve_color, scale=args.scale,
                               device=args.device, precision=args.precision, **tile)
    settings.validate()
    model = load_model(args.model, args.device)
    for index, (src, dst) in enumerate(zip(args.inputs, outputs, strict=True)):
        bar = ProgressBar(f"{index + 1}/{len(outputs)} {src.name}")
        try:
            stylize_file(model, src, dst, settings, progress=bar,
                         image=first_image() if index == 0 else None)
        finally:
            bar.close()
        print(dst)
    return 0


def run_batch(args: argparse.Namespace) -> int:
    """Exit 0 when every scene is done, 1 when any failed (the driver's summary says which)."""
    from .batch.driver import run_batch as drive
    from .batch.settings import BatchSettings

    return drive(BatchSettings.from_args(args))


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "serve":
        from .service.server import main as serve_main

        return serve_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "styles":
            return run_styles()
        if args.command == "train":
            return run_train(args)
        if args.command == "batch":
            return run_batch(args)
        return run_stylize(args)
    except UsageError as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return 2
    except RestyleError as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted; no partial output was kept.", file=sys.stderr)
        return 130
