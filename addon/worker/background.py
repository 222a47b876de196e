"""A worker request on a daemon thread, so a Blender timer can look at it without waiting.

A stopped or hung worker then holds up only that thread, never Blender's UI: the
runs and the preview start one of these per request and check ``done`` on each tick.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class BackgroundCall:
    """``fn(*args)`` running on its own thread; ``result()`` hands back value or error."""

    def __init__(self, what: str, fn: Callable[..., Any], *args: Any) -> None:
        self.what = what
        self.started = time.monotonic()
        self._fn, self._args = fn, args
        self._done = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name=f"restyle-{what}", daemon=True).start()

    def _run(self) -> None:
        try:
            self._result = self._fn(*self._args)
        except BaseException as exc:  # handed to the caller's thread by result()
            self._error = exc
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        """True once the call has returned or raised."""
        return self._done.is_set()

    def result(self) -> Any:
        """The call's return value; re-raises its exception in the caller's thread."""
        if self._error is not None:
            raise self._error
        return self._result
