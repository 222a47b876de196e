"""Speed and memory of the stylizer beside the Johnson et al. 2016 reference (not run in CI).

Prints one table:
- inference seconds and megapixels/s at 512, 1024, 2048 px: ours through the real
  tiled path (``stylize_array``, default 512 px tiles, shared statistics, uint8 in
  and out; up to 1 MP that path is one pass; 2048 also with 1024 px tiles) and
  the reference network in one untiled forward (its best case), on the same
  texture in the same process; runs alternate and the best of ``--repeat``
  counts, so load from other processes hits both alike;
- peak memory (RSS high-water mark) of ``python -m core stylize`` on an
  8192x8192 PNG, measured in a child process;
- training step time (generator forward + backward + Adam, batch 4, L1 loss) at
  128 and 256 px crops.

Usage: ``.venv/bin/python bench/stylizer.py [--repeat N] [--skip-memory]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.johnson import JohnsonNet  # noqa: E402
from core.inference.stylize import StylizeSettings, stylize_array  # noqa: E402
from core.model.generator import build_generator  # noqa: E402
from core.store import StyleModel  # noqa: E402

TEXTURE = ROOT / "demo" / "assets" / "rock1" / "rock01.jpg"
MEMORY_LIMIT_MB = 2048


def texture(size: int) -> np.ndarray:
    """The rock texture tiled (it is seamless) up to ``size`` x ``size``, uint8 RGB."""
    base = np.asarray(Image.open(TEXTURE).convert("RGB"))
    reps = -(-size // base.shape[0])
    return np.ascontiguousarray(np.tile(base, (reps, reps, 1))[:size, :size])


def best_time(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def inference_rows(ours: StyleModel, reference: torch.nn.Module, repeat: int) -> list[tuple]:
    rows = []
    for size, tile in ((512, 512), (1024, 512), (2048, 512), (2048, 1024)):
        settings = StylizeSettings(seamless="off", tile=tile)
        image = texture(size)
        tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0

        def run_ours(image=image, settings=settings):
            stylize_array(ours, image, settings)

        def run_reference(tensor=tensor):
            with torch.inference_mode():
                reference(tensor)

        ours_s, ref_s = float("inf"), float("inf")
        for _ in range(repeat):  # alternate so background load hits both alike
            ours_s = min(ours_s, best_time(run_ours, 1))
            ref_s = min(ref_s, best_time(run_reference, 1))
        mp = size * size / 1e6
        label = f"inference {size}x{size}" + ("" if tile == 512 else f", tile {tile}")
        rows.append((f"{label} (s)", ours_s, ref_s, ref_s / ours_s))
        rows.append((f"{label} (MP/s)", mp / ours_s, mp / ref_s, ref_s / ours_s))
    return rows


def train_rows(repeat: int) -> list[tuple]:
    rows = []
    for crop in (128, 256):
        batch = torch.rand(4, 3, crop, crop)
        target = torch.rand(4, 3, crop, crop)
        seconds = []
        for net in (build_generator(), JohnsonNet()):
            net.train()
            optimiser = torch.optim.Adam(net.parameters(), lr=1e-4)

            def step(net=net, optimiser=optimiser, batch=batch, target=target):
                optimiser.zero_grad(set_to_none=True)
                loss = torch.nn.functional.l1_loss(net(batch), target)
                loss.backward()
                optimiser.step()

            step()  # warm-up
            seconds.append(best_time(step, repeat))
        rows.append((f"train step, batch 4 @ {crop}px (s)", seconds[0], seconds[1],
                     seconds[1] / seconds[0]))
    return rows


MEMORY_PROBE = """
import sys
sys.path.insert(0, {root!r})
from core.cli import main
code = main(["stylize", "--model", {model!r}, {src!r}, "--out", {out!r}, "--seamless", "on"])
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forked parent across exec.
peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")]
print("MAXRSS_KB", peak[0], "EXIT", code)
"""


def memory_row(model_dir: Path, folder: Path) -> tuple:
    src = folder / "texture8k.png"
    Image.fromarray(texture(8192)).save(src, compress_level=1)
    probe = MEMORY_PROBE.format(root=str(ROOT), model=str(model_dir), src=str(src),
                                out=str(folder / "out"))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=False)
    seconds = time.perf_counter() - start
    line = [x for x in result.stdout.splitlines() if x.startswith("MAXRSS_KB")]
    if not line or not line[0].endswith("EXIT 0"):
        raise SystemExit(f"memory probe failed:\n{result.stdout}\n{result.stderr}")
    peak_mb = int(line[0].split()[1]) / 1024
    # The reference untiled: its first 9x9 conv's 32-channel float32 output alone.
    ref_mb = 8192 * 8192 * 32 * 4 / 2**20
    return ("peak RSS 8192x8192 stylize (MB)", peak_mb, ref_mb, ref_mb / peak_mb,
            f"ours {seconds:.0f} s end to end incl. PNG read/write; limit {MEMORY_LIMIT_MB} MB; "
            "reference = one activation of an untiled run (lower bound, not run)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Stylizer speed and memory vs Johnson 2016.")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")
    generator = build_generator().eval()
    ours = StyleModel("bench", generator, {"architecture": generator.arch}, None)
    reference = JohnsonNet().eval()
    texture(64)  # warm caches
    stylize_array(ours, texture(256), StylizeSettings())
    with torch.inference_mode():
        reference(torch.rand(1, 3, 256, 256))
    rows = inference_rows(ours, reference, args.repeat) + train_rows(args.repeat)
    notes = {}
    if not args.skip_memory:
        from core.store import save_model

        with tempfile.TemporaryDirectory() as tmp:
            model_dir = save_model(generator, {"description": "bench"}, Path(tmp) / "m")
            row = memory_row(model_dir, Path(tmp))
            notes[row[0]] = row[4]
            rows.append(row[:4])
    print(f"{'measure':<38} {'ours':>10} {'Johnson':>10} {'ratio':>8}")
    for name, ours_v, ref_v, ratio in rows:
        print(f"{name:<38} {ours_v:>10.3f} {ref_v:>10.3f} {ratio:>7.2f}x")
    for name, note in notes.items():
        print(f"note ({name}): {note}")
    print("ratio: how many times better ours is (time ref/ours, MP/s ours/ref, memory ref/ours)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
