"""Errors whose message is shown to the user as is: name the thing and what to do."""


class RestyleError(Exception):
    """Base class: ``str(error)`` is a complete, human-readable sentence."""


class BadInput(RestyleError):
    """An input file or option is unusable (missing, corrupt, unsupported, too large)."""


class UsageError(BadInput):
    """The command line itself is wrong (found before any work started): exit code 2."""


class UnknownModel(RestyleError):
    """A style model name or folder does not resolve to a saved model."""


class Cancelled(RestyleError):
    """The caller asked the work to stop; nothing partial was kept."""
