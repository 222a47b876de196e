"""Split a job's flat ``settings`` dict into TrainSettings and StylizeSettings, checked.

Clients send one dict (the add-on's panel has one set of options); a name that is
in neither dataclass, a value of the wrong type, or one out of range is a 422 at
submission, naming the setting, rather than a failed job later.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..device import DEVICE_CHOICES, resolve_device
from ..errors import BadInput
from ..precision import PRECISION_CHOICES
from ..training.options import range_error

#: Largest stylize tile core (px a side): memory grows with its square, the result does not.
MAX_TILE = 2048
#: Largest channel count of any generator layer, and the most residual blocks.
MAX_ARCH_WIDTH = 256
MAX_ARCH_BLOCKS = 16
#: Generator knobs that count blocks (depth); every other knob is a width.
DEPTH_KNOBS = ("blocks",)
#: Largest ``batch * size**2`` of a training step (e.g. batch 4 at 512 px).
MAX_TRAIN_PIXELS = 4 * 512 * 512

#: Settings that take one of a few words.
_CHOICES: dict[str, tuple[str, ...]] = {"device": DEVICE_CHOICES, "precision": PRECISION_CHOICES}


class SettingsError(ValueError):
    """A setting the client must fix (the message names it)."""


def parse_settings(raw: dict[str, Any], default_device: str,
                   default_precision: str = "auto") -> tuple[Any, Any]:
    """Return ``(TrainSettings, StylizeSettings)`` built from ``raw`` over their defaults."""
    from ..inference.stylize import StylizeSettings
    from ..training.trainer import TrainSettings

    known = {f.name for cls in (TrainSettings, StylizeSettings) for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SettingsError(
            f"Unknown setting(s) {', '.join(map(repr, unknown))}; known settings are "
            f"{', '.join(sorted(known))}."
        )
    for name, value in raw.items():
        _check_range(name, value)
    if "arch" in raw:
        _check_arch(raw["arch"])
    values = {"device": default_device, "precision": default_precision, **raw}
    try:
        resolve_device(values["device"])
    except BadInput as error:
        raise SettingsError(str(error)) from None
    train, stylize = _build(TrainSettings, values), with_overrides(_build(StylizeSettings, values))
    _check_caps(train, stylize)
    return train, stylize


def _check_caps(train: Any, stylize: Any) -> None:
    """What one job may ask of a shared worker: tile and step size (422 naming the limit)."""
    if stylize.tile > MAX_TILE:
        raise SettingsError(
            f"Setting 'tile' = {stylize.tile} is over this worker's limit of {MAX_TILE} px; "
            "smaller tiles give the same result with less memory."
        )
    pixels = train.batch * train.size * train.size
    if pixels > MAX_TRAIN_PIXELS:
        raise SettingsError(
            f"Settings 'batch' x 'size'^2 = {train.batch} x {train.size}^2 = {pixels:,} pixels "
            f"per training step is over this worker's limit of {MAX_TRAIN_PIXELS:,}; lower "
            "'batch' or 'size'."
        )


def with_overrides(stylize_settings: Any, **overrides: Any) -> Any:
    """Stylize settings with one image's overrides (None = keep), validated."""
    changes = {name: value for name, value in overrides.items() if value is not None}
    settings = dataclasses.replace(stylize_settings, **changes)
    try:
        settings.validate()
    except BadInput as error:
        raise SettingsError(str(error)) from None
    return settings


def _build(cls: type, values: dict[str, Any]) -> Any:
    """Instantiate one settings dataclass from the keys it has, validating their types."""
    mine = {f.name: values[f.name] for f in dataclasses.fields(cls) if f.name in values}
    try:
        return TypeAdapter(cls).validate_python(mine)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SettingsError(
            f"Setting '{where}' = {first.get('input')!r} is invalid: {first['msg']}."
        ) from None


def _check_arch(arch: Any) -> None:
    """``arch`` holds a registered generator's size knobs: known names, small positive integers.

    The generator types and their knobs are the registry's (``GENERATORS``): a new
    generator is accepted here with no change to this module.
    """
    from ..model.generator import ARCH_TYPE, GENERATORS

    if not isinstance(arch, dict):
        raise SettingsError("Setting 'arch' must be an object of generator options.")
    kind = arch.get("type", ARCH_TYPE)
    make = GENERATORS.get(kind) if isinstance(kind, str) else None
    if make is None:
        raise SettingsError(f"Setting 'arch.type' = {kind!r} is not a generator type; use "
                            f"{', '.join(GENERATORS)}.")
    knobs = set(inspect.signature(make).parameters)
    for name, value in arch.items():
        if name == "type":
            continue
        if name not in knobs:
            raise SettingsError(
                f"Setting 'arch.{name}' is not a generator option; use {', '.join(sorted(knobs))}."
            )
        high = MAX_ARCH_BLOCKS if name in DEPTH_KNOBS else MAX_ARCH_WIDTH
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
            raise SettingsError(
                f"Setting 'arch.{name}' = {value!r} must be an integer 1..{high} (this worker's "
                "limit on generator size)."
            )


def _check_range(name: str, value: Any) -> None:
    """Reject words not in a setting's choices and training numbers outside their range.

    The ranges are ``training.options.RANGES`` (the command line checks the same);
    stylize settings are checked by ``StylizeSettings.validate`` itself.
    """
    choices = _CHOICES.get(name)
    if choices is not None and value not in choices:
        raise SettingsError(f"Setting '{name}' = {value!r} must be one of {', '.join(choices)}.")
    problem = range_error(name, value)
    if problem:
        raise SettingsError(problem)
