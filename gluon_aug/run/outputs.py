"""A run's folder (``--out``): refuse to overwrite, hold it while running, record provenance."""
import contextlib
import fcntl
import os
import platform
import shlex
import sys

from .._mxnet import mx
from .._version import __version__
from ..data.cifar import check_cifar_folder
from ..data.download import ensure_cifar10
from ..errors import UsageError

RUN_FILES = ('metrics.json', 'checkpoint.npz')   # their presence means: a previous run
LOCK = '.lock'   # held by the run that writes the folder


def library_versions():
    versions = {'python': platform.python_version(), 'mxnet': mx.__version__,
                'gluon_aug': __version__}
    for name in ('numpy', 'gluoncv', 'matplotlib', 'tqdm'):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    return versions


def prepare_out_dir(out, overwrite):
    """Refuse to overwrite a previous run; make sure `out` is a writable folder."""
    previous = [n for n in RUN_FILES if os.path.exists(os.path.join(out, n))]
    if previous and not overwrite:
        raise UsageError(f"--out {out!r} already holds a run ({', '.join(previous)}); pass "
                         "another folder, --resume to continue it, or --overwrite to replace it")
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out!r} is a file, not a folder; pass a folder path")
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, f'.write-test-{os.getpid()}')  # workers may share `out`
        with open(probe, 'w'):
            pass
        os.remove(probe)
    except OSError as err:
        raise UsageError(f"--out {out!r} is not writable ({err.strerror}); pass a folder "
                         "you can write to") from None


def command_line(argv=None):
    """The command that started this process, as the user would type it."""
    argv = list(sys.argv if argv is None else argv)
    head = argv[0]
    parent, name = os.path.split(os.path.abspath(head))
    if os.path.basename(parent) == 'train' and name.endswith('.py'):
        head = f'python -m train.{name[:-3]}'  # run as `python -m train.X`
    return ' '.join([head] + [shlex.quote(a) for a in argv[1:]])


def prepare_folders(config, overwrite):
    """Check the data folder (or download the data), then make `out`: bad or
    missing data must not leave files behind."""
    if config.data is not None:
        check_cifar_folder(config.data)
    else:
        ensure_cifar10()   # Gluon's location, as the book; fails before `out` exists
    if config.out is not None:
        prepare_out_dir(config.out, overwrite)


@contextlib.contextmanager
def hold_run_folder(out):
    """Hold `out` for the whole run: an exclusive ``fcntl.flock`` on out/.lock, which
    the kernel drops when the process ends however it ends, so a killed run leaves
    no stale lock. A second run or resume of the folder gets UsageError naming the
    holder's pid. None: nothing to hold."""
    if out is None:
        yield
        return
    fd = os.open(os.path.join(out, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 20, 0).decode(errors='replace').strip() or 'unknown'
            raise UsageError(f"--out {out!r} is in use by another run (pid {holder}); wait "
                             "for it to end, or pass another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f'{os.getpid()}\n'.encode(), 0)
        yield
    finally:
        os.close(fd)
