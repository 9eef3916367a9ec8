"""What every entry point shares: one-line errors with exit status 2."""
import argparse
import sys


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag prints one line (no usage block) and exits 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def fail(prog, message):
    """Print one error line for `prog` and return exit status 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def import_library(prog):
    """Import gluon_aug, or print the install hint as one line and exit 2."""
    try:
        import gluon_aug
    except ImportError as err:
        sys.exit(fail(prog, err))
    return gluon_aug
