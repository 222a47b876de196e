"""The main job: restyle the bundled demo with a shipped style and export it for VR.

Two parts, both written to ``out/``:
1. the demo textures through the stylizer's command line (``python -m core stylize``),
   exactly as other tools call it: ``out/textures/`` and a labelled before/after
   ``out/contact_sheet.png``;
2. the demo scene in real Blender (the bpy module) through the installed extension's
   operators, in its own process so bpy stays out of this one: a before/after Cycles
   render sheet, the stylized textures, the ``.blend`` and a validated-ready ``.glb``
   with its export report (see ``scripts/demo_scene.py``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "demo" / "assets"
DEFAULT_STYLE = "starry_night"
THUMB = 320
LABEL_H = 24


def find_textures(assets: Path = ASSETS) -> list[Path]:
    """The demo's colour textures: every JPEG one folder below ``assets``."""
    return sorted(assets.glob("*/*.jpg"))


def stylize_textures(style: str, textures: list[Path], out_dir: Path) -> list[Path]:
    """Run ``python -m core stylize`` on ``textures``; returns the output files in order."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    command = [sys.executable, "-m", "core", "stylize", "--model", style,
               *map(str, textures), "--out", str(out_dir)]
    result = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"demo: stylizing with style '{style}' failed (exit "
                         f"{result.returncode}); see the message above.")
    return [out_dir / texture.name for texture in textures]


def _thumb(path: Path) -> Image.Image:
    image = Image.open(path).convert("RGB")
    return ImageOps.contain(image, (THUMB, THUMB), Image.LANCZOS)


def contact_sheet(pairs: list[tuple[Path, Path]], style: str, path: Path) -> Path:
    """One row per texture: the original and the stylized result, labelled."""
    width = 2 * THUMB + 3 * 8
    height = LABEL_H + len(pairs) * (THUMB + LABEL_H + 8) + 8
    sheet = Image.new("RGB", (width, height), (32, 32, 32))
    draw = ImageDraw.Draw(sheet)
    draw.text((8, 6), f"Restyle demo: before | after ({style})", fill=(240, 240, 240))
    top = LABEL_H
    for before, after in pairs:
        for column, (file, label) in enumerate(((before, "before"), (after, "after"))):
            left = 8 + column * (THUMB + 8)
            draw.text((left, top + 4), f"{label}: {before.parent.name}/{file.name}",
                      fill=(220, 220, 220))
            sheet.paste(_thumb(file), (left, top + LABEL_H))
        top += THUMB + LABEL_H + 8
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", default=DEFAULT_STYLE, help="shipped style name or folder")
    parser.add_argument("--out", type=Path, default=ROOT / "out")
    args = parser.parse_args(argv)
    textures = find_textures()
    if not textures:
        raise SystemExit(f"demo: no textures found under {ASSETS}.")
    results = stylize_textures(args.style, textures, args.out / "textures")
    sheet = contact_sheet(list(zip(textures, results, strict=True)), args.style,
                          args.out / "contact_sheet.png")
    print(f"demo: {len(results)} textures in {args.out / 'textures'}; contact sheet {sheet}")
    scene = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo_scene.py"),
                            "--out", str(args.out), "--style", args.style], cwd=ROOT, check=False)
    if scene.returncode != 0:
        raise SystemExit(f"demo: the Blender scene part failed (exit {scene.returncode}); "
                         "see the message above.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
