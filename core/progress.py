"""The progress and cancel protocol shared by training, stylizing and the service."""

from __future__ import annotations

import threading
from collections.abc import Callable

from .errors import Cancelled

#: ``progress(fraction, phase, message)``: fraction in 0..1 of the whole call.
ProgressFn = Callable[[float, str, str], None]


def report(progress: ProgressFn | None, fraction: float, phase: str, message: str = "") -> None:
    """Call ``progress`` if given, clamping the fraction to 0..1."""
    if progress is not None:
        progress(min(1.0, max(0.0, fraction)), phase, message)


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise ``Cancelled`` when the caller has set ``cancel``."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("Cancelled on request; nothing was written.")


def scaled(progress: ProgressFn | None, start: float, end: float) -> ProgressFn | None:
    """A progress function mapping a sub-task's 0..1 onto ``start..end`` of the caller's."""
    if progress is None:
        return None

    def sub(fraction: float, phase: str, message: str) -> None:
        progress(start + (end - start) * fraction, phase, message)

    return sub
