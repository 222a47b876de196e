"""Which number format the generator runs in: ``auto``, ``fp32`` or ``bf16``.

Convolutions in bfloat16 with channels-last memory run several times faster
than float32 on CPUs with bf16 dot-product hardware (AVX512-BF16, AMX), and a
little slower elsewhere, where bf16 is emulated. ``auto`` therefore picks bf16
only on a CPU that has that hardware and, measured once per process on a small
conv, really runs it faster; on CUDA it picks bf16 (fp16 on GPUs without
bf16) and fp16 on Apple's Metal; fp32 otherwise.

``Precision.autocast()`` wraps any generator's forward: torch autocast casts
each convolution's input and weights to the low precision, while everything
else keeps its dtype. Norm statistics are always measured in fp32. At inference
``TileNorm`` returns its input's dtype, so between the bf16 convs of the 1/4 and
1/8 levels norms, ReLUs and skip additions stay bf16 (the next conv would round
them to bf16 anyway; a trip through fp32 was a quarter of the run time); the
final image + residual sum, whose input is fp32, stays fp32. In training the
norms return fp32. The tiler runs the statistics pass and every tile under the
same context, so tiled equals untiled within one precision.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch

from .errors import BadInput
from .protocol import PRECISION_CHOICES

#: auto takes bf16 on a CPU only when the measured conv runs at least this much faster.
MIN_BF16_SPEEDUP = 1.3
_LOW = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class CpuSupport:
    """What the CPU offers for bf16, as torch reports it."""

    capability: str  # torch.backends.cpu.get_cpu_capability(): AVX2, AVX512, ...
    avx512_bf16: bool
    amx: bool

    @property
    def native_bf16(self) -> bool:
        """bf16 dot products in hardware (else torch emulates them, slower than fp32)."""
        return self.avx512_bf16 or self.amx

    def line(self) -> str:
        """One line for logs and bench tables."""
        extras = [name for name, has in (("avx512_bf16", self.avx512_bf16), ("amx", self.amx))
                  if has]
        return f"cpu capability {self.capability}" + (f" + {' + '.join(extras)}" if extras
                                                      else " (no bf16 hardware)")


@functools.cache
def cpu_support() -> CpuSupport:
    """This machine's CpuSupport (asked once per process)."""
    return CpuSupport(torch.backends.cpu.get_cpu_capability(),
                      torch.cpu._is_avx512_bf16_supported(), torch.cpu._is_amx_tile_supported())


@functools.cache
def measured_bf16_speedup() -> float:
    """fp32 time / bf16 channels-last time of a generator-sized 3x3 conv (milliseconds, once)."""
    conv = torch.nn.Conv2d(128, 128, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.rand(1, 128, 64, 64).contiguous(memory_format=torch.channels_last)

    def best(dtype: torch.dtype | None) -> float:
        with torch.inference_mode(), _autocast("cpu", dtype):
            conv(x)  # warm-up: oneDNN picks and caches its kernel
            start = time.perf_counter()
            for _ in range(3):
                conv(x)
            return time.perf_counter() - start

    return best(None) / max(best(torch.bfloat16), 1e-9)


def _autocast(device_type: str, dtype: torch.dtype | None) -> AbstractContextManager:
    return nullcontext() if dtype is None else torch.autocast(device_type, dtype=dtype)


@dataclass(frozen=True)
class Precision:
    """A resolved choice: the autocast dtype (None = plain fp32) on one device type."""

    name: str  # fp32 | bf16 | fp16
    device_type: str  # cpu | cuda | mps
    reason: str  # why this was chosen, for logs

    @property
    def dtype(self) -> torch.dtype | None:
        return _LOW.get(self.name)

    def autocast(self) -> AbstractContextManager:
        """The context a generator forward runs in (autocast, or nothing for fp32)."""
        return _autocast(self.device_type, self.dtype)

    def prepare(self, generator: torch.nn.Module) -> torch.nn.Module:
        """Put the weights in channels-last layout (in place; values unchanged), as the
        tiler's inputs are: the fast layout for oneDNN's convs in any precision."""
        return generator.to(memory_format=torch.channels_last)


def _check(name: str) -> None:
    if name not in PRECISION_CHOICES:
        raise BadInput(f"Unknown precision '{name}': use one of {', '.join(PRECISION_CHOICES)}.")


def resolve_precision(device: torch.device | str, name: str = "auto",
                      cpu: CpuSupport | None = None,
                      speedup: Callable[[], float] = measured_bf16_speedup) -> Precision:
    """The precision to run on ``device`` for the user's ``name`` (auto, fp32, bf16).

    ``cpu`` and ``speedup`` default to this machine's; passing them decides for
    another CPU. An explicit ``bf16`` is honoured on any CPU (torch emulates it
    where there is no hardware: correct, only slower).
    """
    _check(name)
    kind = torch.device(device).type
    if name == "fp32":
        return Precision("fp32", kind, "asked for")
    if kind == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        if name == "bf16" and not bf16:
            raise BadInput("Precision 'bf16' was asked for but this GPU has no bf16; "
                           "use auto or fp32.")
        return Precision("bf16" if bf16 else "fp16", kind, "GPU autocast")
    if kind == "mps":
        return Precision("bf16" if name == "bf16" else "fp16", kind, "Metal autocast")
    if kind != "cpu":
        return Precision("fp32", kind, f"no autocast on {kind}")
    if name == "bf16":
        return Precision("bf16", kind, "asked for")
    cpu = cpu or cpu_support()
    if not cpu.native_bf16:
        return Precision("fp32", kind, f"{cpu.line()}: bf16 would be emulated")
    gain = speedup()
    if gain < MIN_BF16_SPEEDUP:
        return Precision("fp32", kind, f"{cpu.line()}: bf16 measured only {gain:.1f}x faster")
    return Precision("bf16", kind, f"{cpu.line()}: bf16 measured {gain:.1f}x faster")
