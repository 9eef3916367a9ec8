"""Import MXNet once, turning the known install mistakes into one clear line.

Every module of the package imports ``mx``, ``np``, ``npx``... from here, so
the check runs before any other MXNet use and numpy mode is switched on the
way the book does (``npx.set_np()`` at the top of every MXNet chapter).
"""

_HINT = ("gluon_aug needs an MXNet build: install the CPU build with "
         "`pip install -e \".[cpu]\"` or, on a machine with CUDA 11.2 and an "
         "NVIDIA driver, the GPU build with `pip install -e \".[gpu]\"` "
         "(never both)")

ARENAS = 'GLUON_AUG_ONE_ARENA'   # '0': leave glibc's malloc arenas as they are


def _one_malloc_arena():
    """glibc's malloc with one arena for every thread, as ``MALLOC_ARENA_MAX=1``, unless
    ``GLUON_AUG_ONE_ARENA=0`` or MALLOC_ARENA_MAX is set; True if set here.

    With its default arenas, some processes (about half, at random) return the memory of
    every large freed NDArray to the kernel and fault it back in page by page at the next
    call: a hybridized 224x224 augmentation then ran 2.5-4x slower, and a copy of the batch
    ten times (docs/PERFORMANCE.md). One arena keeps that memory for reuse. It only acts on
    threads that have not allocated yet, so it runs before MXNet starts its own; other
    C libraries (no glibc) have no such call, and are left alone."""
    import os
    if os.environ.get(ARENAS, '1').strip() == '0' or 'MALLOC_ARENA_MAX' in os.environ:
        return False
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        return bool(libc.gnu_get_libc_version and libc.mallopt(-8, 1))   # M_ARENA_MAX
    except (OSError, AttributeError):
        return False


ONE_ARENA = _one_malloc_arena()

try:
    import mxnet as mx
except ModuleNotFoundError as err:
    if err.name != 'mxnet':
        raise
    raise ImportError(f"MXNet is not installed. {_HINT}.") from None
except AttributeError as err:   # numpy >= 1.24 removed np.bool (apache/mxnet#21165)
    import numpy
    if tuple(int(v) for v in numpy.__version__.split('.')[:2]) >= (1, 24):
        raise ImportError(
            f"MXNet 1.9.1 cannot run with NumPy {numpy.__version__} ({err}); "
            "install `numpy<1.24` (pip install \"numpy<1.24\").") from None
    # e.g. a new onnx, which MXNet imports when it is there (onnx 1.19 needs NumPy 1.25)
    raise ImportError(f"importing MXNet 1.9.1 failed ({type(err).__name__}: {err}); a "
                      "package it imports may be too new for it (onnx: install \"onnx<1.16\", "
                      "or the `onnx` extra)") from None
except OSError as err:          # mxnet-cu112 without libcuda / CUDA 11.2 libraries
    raise ImportError(
        f"MXNet failed to load its native library ({err}). The GPU build "
        f"needs the NVIDIA driver and CUDA 11.2 libraries; on a machine "
        f"without them use the CPU build. {_HINT}.") from None

import logging  # noqa: E402

from mxnet import autograd, gluon, image, init, np, npx  # noqa: E402
from mxnet.gluon import nn  # noqa: E402


def _set_np_quietly():
    """``npx.set_np()``, without the root logging handler it leaves behind: it logs
    with ``logging.info``, which calls ``basicConfig`` when the root logger has no
    handler, and a user's later ``basicConfig(level=...)`` would then do nothing."""
    before = list(logging.root.handlers)
    npx.set_np()
    for handler in logging.root.handlers[:]:
        if handler not in before:
            logging.root.removeHandler(handler)


_set_np_quietly()


def legacy(F, op, *xs, **kwargs):
    """MXNet's legacy operator `op` on `xs` (numpy-mode or legacy, arrays or symbols),
    returning the kind it was given."""
    if not isinstance(xs[0], (mx.numpy.ndarray, mx.symbol.numpy._Symbol)):
        return getattr(F, op)(*xs, **kwargs)
    return getattr(F, op)(*(x.as_nd_ndarray() for x in xs), **kwargs).as_np_ndarray()


def legacy_outputs(F, op, *xs, **kwargs):
    """``legacy`` for an operator of several outputs: the list of them."""
    numpy_mode = isinstance(xs[0], (mx.numpy.ndarray, mx.symbol.numpy._Symbol))
    out = getattr(F, op)(*(x.as_nd_ndarray() if numpy_mode else x for x in xs), **kwargs)
    outs = list(out) if isinstance(out, (list, tuple)) else [out[k] for k in range(len(out))]
    return [o.as_np_ndarray() for o in outs] if numpy_mode else outs


__all__ = ['mx', 'autograd', 'gluon', 'image', 'init', 'np', 'npx', 'nn', 'legacy',
           'legacy_outputs']
