"""What the entry points turn into one line and an exit status."""


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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program stands (the entry points install the
    handler), so that it ends as Ctrl-C does."""


class Interrupted(RunError):
    """A run stopped by Ctrl-C (status 130) or SIGTERM (143); the message says
    where its last checkpoint is and how to continue it."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status
