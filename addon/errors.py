"""The add-on's one user-facing error type.

Anything raised as :class:`AddonError` is a problem the user can fix; its message names
the thing and what to do, and operators report it instead of a traceback. Every other
exception is a programming error and surfaces as a traceback (and fails the tests).
"""


class AddonError(Exception):
    """A problem the user can fix: ``str(error)`` is the whole message to show."""
