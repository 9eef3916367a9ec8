"""The one exception type for bad input from the user."""


class UsageError(ValueError):
    """Bad input (a flag, a path, a data file) that the user can fix.

    Entry points print ``str(err)`` as one line and exit with status 2; the
    message names the problem and the fix.
    """
