"""Speed and memory of the stylizer beside the Johnson et al. 2016 reference (not run in CI).

Prints one table, with the CPU's capability line first:
- in-process seconds at 1024, 2048, 4096 px through the real tiled path
  (``stylize_array``, default tiles, shared statistics, uint8 in and out) in fp32
  and in bf16 (bf16 only where the CPU has bf16 hardware, unless ``--bf16 always``),
  beside the reference network in one untiled fp32 forward (its best case) on the
  same texture in the same process; runs alternate and the best of ``--repeat``
  counts, so load from other processes hits both alike;
- whole-process seconds of ``python -m core stylize`` (precision auto: torch
  import, model load, PNG read, stylize, PNG write) at 2048 and 4096, against the
  reference's in-process forward at that size;
- peak memory (RSS high-water mark) of ``python -m core stylize`` on an
  8192x8192 PNG, measured in a child process;
- training step time (generator forward + backward + Adam, batch 4, L1 loss) at
  128 and 256 px crops, ours in fp32 and bf16 autocast.

Usage: ``.venv/bin/python bench/stylizer.py [--repeat N] [--skip-memory] [--bf16 auto|always]``
"""

from __future__ import annotations

import argparse
import os
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
from core.errors import RestyleError  # noqa: E402
from core.inference.stylize import StylizeSettings, stylize_array  # noqa: E402
from core.model.generator import build_generator  # noqa: E402
from core.precision import cpu_support, resolve_precision  # noqa: E402
from core.store import StyleModel, load_model, save_model  # noqa: E402

TEXTURE = ROOT / "demo" / "assets" / "rock1" / "rock01.jpg"
HELD_OUT = ROOT.parent / "shared" / "textures"  # bench only: tests never read ../shared
MEMORY_LIMIT_MB = 2048  # the bound an 8192^2 stylize must stay under
SIZES = (1024, 2048, 4096)
CLI_SIZES = (2048, 4096)


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


def inference_rows(ours: StyleModel, reference: torch.nn.Module, precisions: list[str],
                   repeat: int) -> tuple[list[tuple], dict[int, float]]:
    """In-process rows per size and precision, and the reference's seconds per size."""
    rows, reference_s = [], {}
    for size in SIZES:
        image = texture(size)
        tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0

        def run_reference(tensor=tensor):
            with torch.inference_mode():
                reference(tensor)

        runs = {name: (lambda image=image, name=name: stylize_array(
            ours, image, StylizeSettings(seamless="off", precision=name))) for name in precisions}
        ours_s = dict.fromkeys(precisions, float("inf"))
        ref_s = float("inf")
        for _ in range(repeat):  # alternate so background load hits both alike
            for name, run in runs.items():
                ours_s[name] = min(ours_s[name], best_time(run, 1))
            ref_s = min(ref_s, best_time(run_reference, 1))
        del tensor
        reference_s[size] = ref_s
        size_rows = [(f"in-process {size}^2 {name} (s)", ours_s[name], ref_s,
                      ref_s / ours_s[name]) for name in precisions]
        show(size_rows)
        rows += size_rows
    return rows, reference_s


def cli_rows(model_dir: Path, folder: Path, reference_s: dict[int, float]) -> list[tuple]:
    """``python -m core stylize`` timed as a user runs it, PNG in and out."""
    rows = []
    for size in CLI_SIZES:
        src = folder / f"texture{size}.png"
        Image.fromarray(texture(size)).save(src)
        command = [sys.executable, "-m", "core", "stylize", "--model", str(model_dir), str(src),
                   "--out", str(folder / f"cli{size}")]
        start = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        seconds = time.perf_counter() - start
        if result.returncode:
            raise SystemExit(f"stylize CLI failed:\n{result.stderr}")
        rows.append((f"whole-process CLI {size}^2 (s)", seconds, reference_s[size],
                     reference_s[size] / seconds))
    return rows


def train_rows(precisions: list[str], repeat: int) -> list[tuple]:
    rows = []
    for crop in (128, 256):
        batch = torch.rand(4, 3, crop, crop)
        target = torch.rand(4, 3, crop, crop)
        seconds = {}
        for name, net in [(p, build_generator()) for p in precisions] + [("ref", JohnsonNet())]:
            net.train()
            optimiser = torch.optim.Adam(net.parameters(), lr=1e-4)
            precision = resolve_precision("cpu", "fp32" if name == "ref" else name)

            def step(net=net, optimiser=optimiser, precision=precision, batch=batch,
                     target=target):
                optimiser.zero_grad(set_to_none=True)
                with precision.autocast():
                    loss = torch.nn.functional.l1_loss(net(batch), target)
                loss.backward()
                optimiser.step()

            step()  # warm-up
            seconds[name] = best_time(step, repeat)
        for name in precisions:
            rows.append((f"train step, batch 4 @ {crop}px {name} (s)", seconds[name],
                         seconds["ref"], seconds["ref"] / seconds[name]))
    return rows


def held_out_difference() -> str:
    """Mean and worst per-texture mean |bf16 - fp32| of a shipped style on the held-out
    textures (a trained net: an untrained one is the identity and would show nothing)."""
    files = sorted(HELD_OUT.glob("*.jpg")) + sorted(HELD_OUT.glob("*.png"))
    if not files:
        return f"bf16 vs fp32: skipped, no held-out textures in {HELD_OUT}"
    try:
        model = load_model("starry_night", "cpu")
    except RestyleError as error:
        return f"bf16 vs fp32: skipped, the shipped style does not load ({error})"
    means = []
    for path in files:
        rgb = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))
        out = {name: stylize_array(model, rgb, StylizeSettings(precision=name)).astype(float)
               for name in ("fp32", "bf16")}
        means.append(float(np.abs(out["fp32"] - out["bf16"]).mean()))
    return (f"bf16 vs fp32 on {len(files)} held-out textures (starry_night): mean |diff| "
            f"{np.mean(means):.3f}/255, worst texture {np.max(means):.3f}/255 (limit 1/255)")


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


def show(rows: list[tuple]) -> None:
    """Print table rows as soon as they are measured (a long run shows its progress)."""
    for name, ours_v, ref_v, ratio in rows:
        print(f"{name:<42} {ours_v:>10.3f} {ref_v:>10.3f} {ratio:>7.2f}x", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Stylizer speed and memory vs Johnson 2016.")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--bf16", choices=("auto", "always"), default="auto",
                        help="auto: bf16 rows only on a CPU with bf16 hardware")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    support = cpu_support()
    auto = resolve_precision("cpu", "auto")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu; "
          f"{support.line()}; auto -> {auto.name} ({auto.reason})")
    precisions = ["fp32"] + (["bf16"] if support.native_bf16 or args.bf16 == "always" else [])
    generator = build_generator().eval()
    ours = StyleModel("bench", generator, {"architecture": generator.arch}, None)
    reference = JohnsonNet().eval()
    stylize_array(ours, texture(256), StylizeSettings())  # warm caches
    with torch.inference_mode():
        reference(torch.rand(1, 3, 256, 256))
    print(f"{'measure':<42} {'ours':>10} {'Johnson':>10} {'ratio':>8}", flush=True)
    reference_s = inference_rows(ours, reference, precisions, args.repeat)[1]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = save_model(generator, {"description": "bench"}, Path(tmp) / "m")
        show(cli_rows(model_dir, Path(tmp), reference_s))
        show(train_rows(precisions, args.repeat))
        if not args.skip_memory:
            row = memory_row(model_dir, Path(tmp))
            show([row[:4]])
            print(f"note ({row[0]}): {row[4]}")
    print("ratio: how many times better ours is (time ref/ours, memory ref/ours); the CLI "
          "rows set our whole process against the reference's in-process forward")
    print(held_out_difference())
    return 0


if __name__ == "__main__":
    sys.exit(main())
