"""Training settings facts that need no torch: effort presets and the range of each knob.

The add-on, which never imports torch, offers ``EFFORT`` in its panel; the service and
the command line (``--steps``, ``--size``, ``--seed`` of ``train`` and ``batch``) both
check values with ``range_error``, so each rule has one home. The settings themselves
are ``trainer.TrainSettings``.
"""

from __future__ import annotations

import argparse

from ..errors import UsageError

#: Seconds of training steps a default run may take at most: the whole default command
#: took 105 s on an AVX512-BF16 Xeon with 2 cores (stop 39); on a slower or busy machine
#: the schedule compresses so the whole command stays in 3 minutes.
DEFAULT_TIME_BUDGET_S = 165.0

#: Training effort -> (steps, crop size, time budget in seconds or None). Balanced is the
#: ``TrainSettings`` default (what ``python -m core train`` and the shipped styles use).
EFFORT: dict[str, tuple[int, int, float | None]] = {
    "QUICK": (120, 128, 60.0),
    "BALANCED": (400, 128, DEFAULT_TIME_BUDGET_S),
    "BEST": (1200, 192, None),
}

#: The sane range of each numeric training setting: (lowest, highest), None = unbounded.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "steps": (1, 1_000_000),
    "size": (16, 4096),
    "batch": (1, 256),
    "lr": (1e-8, 1.0),
    "content_weight": (0, None),
    "style_weight": (0, None),
    "neighbour_weight": (0, None),
    "detail_weight": (0, None),
    "feature_weight": (0, None),
    "patch": (3, 15),
    "octaves": (1, 6),
    "adv_weight": (0, None),
    "tv_weight": (0, None),
    "time_budget_s": (0, None),
}


def range_error(name: str, value: object, label: str | None = None) -> str | None:
    """Why ``value`` is outside the range of training setting ``name``; None when it is not.

    Only numbers are checked (a wrong type is the caller's own check). ``label`` names
    the setting in the message: ``Setting 'steps'`` by default, ``--steps`` on the
    command line.
    """
    low, high = RANGES.get(name, (None, None))
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if (low is None or value >= low) and (high is None or value <= high):
        return None
    span = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
    return f"{label or f'Setting {name!r}'} = {value!r} is out of range ({span})."


#: The TrainSettings fields the command line offers, by option name.
COMMAND_LINE = {"steps": "--steps", "size": "--size", "seed": "--seed",
                "time_budget_s": "--time-budget"}


def add_train_options(parser: argparse.ArgumentParser) -> None:
    """Training overrides shared by ``train`` and ``batch --style-image`` (None: defaults)."""
    parser.add_argument("--steps", type=int, metavar="N", help="training steps")
    parser.add_argument("--size", type=int, metavar="PX", help="training crop size")
    parser.add_argument("--seed", type=int, metavar="S")
    parser.add_argument("--time-budget", type=float, metavar="S", dest="time_budget_s",
                        help=f"seconds of training at most (default {DEFAULT_TIME_BUDGET_S:g}; "
                        "0 = no limit, then a seed and a step count give the same model "
                        "on any machine)")


def train_overrides(args: argparse.Namespace) -> dict:
    """The training options given on the command line, range-checked as the service does.

    Raises ``UsageError`` (exit 2) naming the option, before any work starts.
    """
    given = {name: getattr(args, name) for name in COMMAND_LINE
             if getattr(args, name) is not None}
    for name, value in given.items():
        problem = range_error(name, value, label=COMMAND_LINE[name])
        if problem:
            raise UsageError(problem)
    if given.get("time_budget_s") == 0:
        given["time_budget_s"] = None
    return given
