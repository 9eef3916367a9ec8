"""The one exception type for bad input from the user."""


class UsageError(ValueError):
    """Bad input (a flag, a path, a data file) that the user can fix.

    Entry points print ``str(err)`` as one line and exit with status 2; the
    message names the problem and the fix.
    """


class RunError(RuntimeError):
    """A run that cannot go on: the loss diverged, a loader worker died or hung.

    Entry points print ``str(err)`` as one line and exit with status 1; what
    was saved before (the last checkpoint) stays.
    """
