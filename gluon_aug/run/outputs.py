"""A run's folder (``--out``): refuse to overwrite, hold it while running, record provenance."""
import contextlib
import fcntl
import os
import platform
import re
import shlex
import shutil
import sys
import uuid

from .._mxnet import mx
from .._version import __version__
from ..data.cifar import check_cifar_folder
from ..data.download import ensure_cifar10
from ..errors import RunError, UsageError

RUN_FILES = ('metrics.json', 'model.params', 'checkpoint.npz')  # present: a previous run
# what a run leaves in its folder (train.evaluate adds eval/), retired by --overwrite
# before the new run writes anything: metrics.json first, so that the folder never
# claims a finished run whose files are half gone
RUN_OUTPUTS = ('metrics.json', 'model.params', 'checkpoint.npz', 'curves.png', 'eval')
LOCK = '.lock'   # held by the run that writes the folder


def new_run_id():
    """The id a new run writes into its checkpoint and metrics.json (a resumed run
    keeps its own): readers check that a folder's files belong to one run."""
    return uuid.uuid4().hex


def cpu_description():
    """The CPU's model and the vector units that decide its speed (AVX2, AVX-512,
    AVX512_BF16, AMX), and the cores this process may use: metrics.json's
    ``run.cpu``, so a speed is never read apart from its machine."""
    model, vector = platform.processor() or 'unknown CPU', 'vector units unknown'
    try:
        with open('/proc/cpuinfo') as f:
            info = f.read()
        found = re.search(r'model name\s*:\s*(.*)', info)
        model = found.group(1).strip() if found else model
        flags = set(re.findall(r'\b(avx512f|avx512_bf16|amx_bf16|avx2)\b', info))
        vector = ('no AVX2' if not flags & {'avx2', 'avx512f'} else 'AVX2, no AVX-512'
                  if 'avx512f' not in flags else 'AVX-512, ' + (
                      'AVX512_BF16 and AMX' if 'amx_bf16' in flags else
                      'AVX512_BF16, no AMX' if 'avx512_bf16' in flags else 'no BF16'))
    except OSError:
        pass
    return f"{model} ({vector}); {len(os.sched_getaffinity(0))} cores usable"


def library_versions():
    versions = {'python': platform.python_version(), 'mxnet': mx.__version__,
                'gluon_aug': __version__}
    for name in ('numpy', 'gluoncv', 'matplotlib', 'tqdm'):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    return versions


def refuse_previous_run(out, overwrite):
    """UsageError when `out` holds a previous run's files and not `overwrite`."""
    previous = [n for n in RUN_FILES if os.path.lexists(os.path.join(out, n))]
    if previous and not overwrite:
        raise UsageError(f"--out {out!r} already holds a run ({', '.join(previous)}); pass "
                         "another folder, --resume to continue it, or --overwrite to replace it")


def prepare_out_dir(out, overwrite):
    """Refuse to overwrite a previous run; make sure `out` is a writable folder."""
    refuse_previous_run(out, overwrite)
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


def retire_run(out):
    """Remove the previous run's outputs from `out` (see RUN_OUTPUTS)."""
    for name in RUN_OUTPUTS:
        path = os.path.join(out, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.remove(path)
        except OSError as err:
            raise RunError(f"--overwrite cannot remove the previous run's {path} "
                           f"({err.strerror or err}); nothing new was written: remove it, or "
                           "pass another --out") from None


def held_by(out):
    """The pid of the process that holds `out` (a run still writing it), or None."""
    try:
        fd = os.open(os.path.join(out, LOCK), os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return None
    except BlockingIOError:
        return os.pread(fd, 20, 0).decode(errors='replace').strip() or 'unknown'
    finally:
        os.close(fd)


@contextlib.contextmanager
def hold_run_folder(out, new_run=False, overwrite=False):
    """Hold `out` for the whole run: an exclusive ``fcntl.flock`` on out/.lock, which
    the kernel drops when the process ends however it ends, so a killed run leaves
    no stale lock. A second run or resume of the folder gets UsageError naming the
    holder's pid. None: nothing to hold. For a `new_run` (not a resume), held: a
    run that finished there since ``prepare_out_dir`` looked is refused, and with
    `overwrite` the previous run's files are retired before anything is written."""
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
        if new_run:
            refuse_previous_run(out, overwrite)
            if overwrite:
                retire_run(out)
        yield
    finally:
        os.close(fd)
