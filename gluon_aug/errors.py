"""What the entry points turn into one line and an exit status."""
import re



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


def reason(err, limit=240):
    """An exception's message as one short line. MXNet's errors carry a traceback
    ("Traceback (most recent call last): File "...cc", line N" and a C++ stack)
    around the message; only the message is kept."""
    text = str(err)
    text = re.sub(r'Traceback \(most recent call last\):\s*(File "[^"]*", line \d+\s*)*', '',
                  text)
    text = re.split(r'Stack trace|\[bt\]', text)[0]
    return ' '.join(text.split())[:limit] or type(err).__name__
