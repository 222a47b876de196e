"""The add-on's one user-facing error type, and what operators report instead of a traceback.

Anything raised as :class:`AddonError` is a problem the user can fix; its message names
the thing and what to do, and operators report it instead of a traceback. The worker
client's errors (``WorkerError`` and its kinds) are ``AddonError`` too. Besides it only
two kinds of exception are the user's to see, not bugs: a file or folder that cannot be
read or written (``OSError``), and what Blender's own API raises when a render, or
loading, saving or packing an image, fails (``RuntimeError``). Those three are
``REPORTED``; every other exception is a programming error and surfaces as a traceback
(and fails the tests).
"""


class AddonError(Exception):
    """A problem the user can fix: ``str(error)`` is the whole message to show."""


#: What operators and runs report as a message (see above); anything else is a bug.
REPORTED = (AddonError, OSError, RuntimeError)
