"""The batched augmenters' fused CPU kernels (``kernels.cc``), built on first use.

MXNet's own operators move a batch several times for one augmentation: a
left-right flip is a transpose, a gather of rows and a transpose back; an
erased box is a mask, its repeat over the channels and a product; colour jitter
is a dozen passes, most of them for the hue. ``kernels.cc`` does each in one
pass, as an MXNet custom-operator library (``mxnet/lib_api.h``, shipped in
MXNet's wheel): ``gluon_aug_resample`` (every whole-pixel move and bilinear
resize of a chain, ``geometry.remap``, with the taps it reads from ``gluon_aug_taps``),
``gluon_aug_erase`` (``BatchErasing``),
``gluon_aug_boxes`` (the box draws of ``BatchResizedCrop`` and ``BatchErasing``: ten
tries per sample, the first fit and its offsets, ~60 small operators in MXNet's),
``gluon_aug_lookup`` and ``gluon_aug_pick`` (a per-sample choice from a fixed table or
from per-sample values: the policies' draws),
``gluon_aug_color`` (``BatchColorJitter``), ``gluon_aug_policy_stage`` (a stage of
the batched policies: each image its own op, where MXNet's operators compute every
op a stage can hold for the whole batch) and ``gluon_aug_mix`` (``BatchAugMix``'s
mixing of its chains).

The library is compiled once per source, MXNet version, compiler and CPU (for its
vector units: ``-march=native``) with the system's C++ compiler (``CXX``, else
``g++``), kept in GLUON_AUG_CACHE (default ``~/.cache/gluon_aug``), and loaded into
MXNet with ``mx.library.load``. Where
that cannot be done (no compiler, a failed build, a GPU batch, or
``GLUON_AUG_NATIVE=0``) the blocks run the same computation with MXNet's
operators, which stay the reference the kernels are tested against
(tests/test_native_kernels.py); one warning says why, once per process.
"""
import hashlib
import os
import platform
import shlex
import subprocess
import tempfile
import warnings

from ..._mxnet import mx

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'kernels.cc')
SWITCH = 'GLUON_AUG_NATIVE'      # '0': MXNet's operators only
CACHE = 'GLUON_AUG_CACHE'        # where the built library is kept
OPS = ('gluon_aug_resample', 'gluon_aug_taps', 'gluon_aug_erase', 'gluon_aug_boxes',
       'gluon_aug_lookup',
       'gluon_aug_pick', 'gluon_aug_color', 'gluon_aug_policy_stage', 'gluon_aug_mix')
# -ffp-contract=off: no a * b + c in one rounding, so the policies' ops truncate to the
# same levels as MXNet's float32 operators; -fno-trapping-math: floor and friends become
# vector instructions (the same values; only floating-point exception flags may differ)
FLAGS = ('-O3', '-march=native', '-ffp-contract=off', '-fno-trapping-math', '-std=c++17',
         '-shared', '-fPIC', '-fopenmp')

_loaded = {}   # 'ok': bool once tried, 'why': the reason it is off
_wanted = [True]


def _mxnet_dir():
    return os.path.dirname(os.path.abspath(mx.__file__))


def compiler():
    return shlex.split(os.environ.get('CXX') or 'g++')


def cpu_flags():
    """This CPU's feature flags (Linux), part of the library's key: it is built for this
    CPU's vector units (``-march=native``), so a cache shared with another CPU rebuilds."""
    try:
        with open('/proc/cpuinfo') as f:
            return next((line for line in f if line.startswith('flags')), '')
    except OSError:
        return platform.processor()


def library_path():
    """Where the library for this source, MXNet and compiler is kept."""
    key = hashlib.sha256()
    with open(SOURCE, 'rb') as f:
        key.update(f.read())
    key.update(f'{mx.__version__} {_mxnet_dir()} {" ".join(compiler() + list(FLAGS))} '
               f'{cpu_flags()}'.encode())
    folder = os.environ.get(CACHE) or os.path.join(os.path.expanduser('~'), '.cache',
                                                   'gluon_aug')
    return os.path.join(os.path.abspath(folder), f'kernels-{key.hexdigest()[:16]}.so')


def build(path):
    """Compile ``kernels.cc`` with MXNet's ``lib_api`` into `path` (atomically: a
    parallel build in another process never sees half a file)."""
    root = _mxnet_dir()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix='.so', dir=os.path.dirname(path))
    os.close(fd)
    command = compiler() + list(FLAGS) + ['-I', os.path.join(root, 'include'), SOURCE,
                                          os.path.join(root, 'src', 'lib_api.cc'), '-o', tmp]
    try:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            lines = done.stderr.strip().splitlines() or ['no output']
            first = next((line for line in lines if 'error' in line), lines[-1])
            raise RuntimeError(f'{command[0]} failed: {first.strip()[:200]}')
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def available():
    """Whether the kernels are loaded into MXNet (building them on the first call)."""
    if 'ok' not in _loaded:
        _loaded['ok'], _loaded['why'] = False, None
        if os.environ.get(SWITCH, '1').strip() == '0':
            _loaded['why'] = f'{SWITCH}=0'
            return False
        try:
            path = library_path()
            if not os.path.exists(path):
                build(path)
            mx.library.load(path, verbose=False)
            _loaded['ok'] = all(hasattr(mx.nd, op) for op in OPS)
        except (OSError, RuntimeError, mx.base.MXNetError) as err:
            _loaded['why'] = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        if not _loaded['ok']:
            warnings.warn(f"gluon_aug: the fused augmentation kernels are off "
                          f"({_loaded['why'] or 'not loaded'}); MXNet's operators run instead, "
                          f"slower at large image sizes", RuntimeWarning, stacklevel=2)
    return _loaded['ok']


def use(flag):
    """Let the blocks use the kernels where they load (True, the default) or never
    (False: MXNet's operators, e.g. to compare); returns the previous setting. A block
    follows the change at its next call."""
    previous, _wanted[0] = _wanted[0], bool(flag)
    return previous


def usable(context):
    """Whether a batch on `context` can use the kernels (CPU only)."""
    return _wanted[0] and context.device_type == 'cpu' and available()

