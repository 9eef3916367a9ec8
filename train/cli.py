"""What every entry point shares: threads, one-line errors, exit statuses.

Each ``main`` calls ``configure_threads()`` first, before anything imports
MXNet: MXNet otherwise runs one OpenMP thread on small machines, which halves
training speed on two cores. DataLoader worker processes still run one
thread each (MXNet's fork handler sets ``MXNET_MP_WORKER_NTHREADS``, default
1, in every child).
"""
import argparse
import os
import re
import sys


def configure_threads(environ=os.environ, prog=None):
    """Set OMP_NUM_THREADS to the usable cores unless already set; return it. A
    value OpenMP would abort on is one line and exit 2."""
    value = environ.get('OMP_NUM_THREADS')
    if value and not re.fullmatch(r'[1-9][0-9]*(,[1-9][0-9]*)*', value.strip()):
        sys.exit(fail(prog or os.path.basename(sys.argv[0]) or 'gluon_aug',
                      f"OMP_NUM_THREADS={value!r} is not a number of threads (OpenMP would "
                      "abort); unset it, or set a positive integer such as 2"))
    if not value:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        environ['OMP_NUM_THREADS'] = str(cores)
    return environ['OMP_NUM_THREADS']


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag prints one line (no usage block) and exits 2, and flags
    are taken only in full (``library`` reads --dtype before the parser runs)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('allow_abbrev', False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def given_flags(parser, argv=None):
    """{dest: value} of the options given on the command line `argv` (default:
    this process's), leaving out those left at their defaults."""
    unset = object()
    names = argparse.Namespace(**{a.dest: unset for a in parser._actions})
    parser.parse_args(argv, names)   # argparse fills in no default over a set name
    return {k: v for k, v in vars(names).items() if v is not unset}


def add_run_dir(parser):
    """The positional RUN_DIR of the commands that use a finished run."""
    parser.add_argument('path', metavar='RUN_DIR',
                        help='the --out folder of a finished python -m train.cifar run')


def fail(prog, message, status=2):
    """Print one error line for `prog` and return `status`."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return status


def import_library(prog):
    """Import gluon_aug, or print the install hint as one line and exit 2."""
    try:
        import gluon_aug
    except ImportError as err:
        sys.exit(fail(prog, err))
    return gluon_aug


def library(prog, argv=None):
    """gluon_aug for the entry point `prog`, imported after ``configure_threads()``
    (every entry point does this first, before anything loads MXNet) and, when
    its arguments (default: this process's) ask for ``--dtype bfloat16``, after
    switching AMX on where the CPU has it (``amx.enable_amx``)."""
    configure_threads(prog=prog)
    argv = sys.argv[1:] if argv is None else argv
    if '--dtype=bfloat16' in argv or any(a == '--dtype' and b == 'bfloat16'
                                          for a, b in zip(argv, argv[1:])):
        from train import amx
        amx.enable_amx()
    return import_library(prog)


def call(prog, fn, /, *args, **kwargs):
    """Run `fn`; bad input (UsageError) is one line and status 2, a run that
    cannot go on (RunError) one line and status 1, Ctrl-C one line and 130,
    SIGTERM one line and 143; else `fn`'s status (an int) or 0."""
    from gluon_aug import stopping
    from gluon_aug.errors import Interrupted, RunError, Terminated, UsageError
    try:
        with stopping.handled():   # Ctrl-C and SIGTERM stop a run between two steps
            status = fn(*args, **kwargs)
    except UsageError as err:
        return fail(prog, err)
    except Interrupted as err:
        return fail(prog, err, status=err.status)
    except RunError as err:
        return fail(prog, err, status=1)
    except KeyboardInterrupt as err:   # Ctrl-C or SIGTERM outside a run's training
        return fail(prog, f"stopped by {'SIGTERM' if isinstance(err, Terminated) else 'Ctrl-C'}",
                    status=143 if isinstance(err, Terminated) else 130)
    return status if type(status) is int else 0
