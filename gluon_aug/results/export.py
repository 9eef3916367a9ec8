"""Export a trained run's net for use outside this package: MXNet files and ONNX.

``export_run(path, out)`` is what ``python -m train.export`` calls. Into `out`:

- ``model-symbol.json`` and ``model-0000.params``: the hybridized net
  (``HybridBlock.export``), loadable with ``gluon.SymbolBlock.imports``;
- ``model.onnx``, when the ``onnx`` extra is installed (``pip install -e
  ".[onnx]"``): the same files through MXNet's own exporter
  (``mx.onnx.export_model``), with a dynamic batch dimension;
- ``export.json``: what a user of the files needs: the input (name, shape,
  scaling, normalization), the output, the class names, how to load the
  MXNet files, the run it came from and the checks below.

Nothing is kept unchecked: the files are written to a temporary folder
beside `out`, the reloaded SymbolBlock must reproduce the net's logits
exactly and onnxruntime to ``ONNX_TOLERANCE`` on a fixed batch, and only then
does that folder become `out`, whole (``publish``): an `out` holds exactly one
export's files. A net that cannot be exported gets one line saying what and
why, and nothing is written.

The net is the run's published model (``trained.inference_net``). GluonCV
models run inside a ``LegacyAdapter``; what is exported is the model itself,
legacy NDArray code, so its files load in a plain MXNet session; d2l's
``resnet18`` is numpy-mode code, whose files load after ``npx.set_np()``.
"""
import ctypes
import dataclasses
import errno
import fcntl
import os
import shutil
import tempfile
import warnings

import numpy as onp

from .._mxnet import gluon, mx
from ..augment.presets import CIFAR10_MEAN, CIFAR10_STD
from ..data.cifar import CLASSES
from ..errors import reason, UsageError
from ..files import check_mxnet_path, fsync_folder, mxnet_writes, write_failure, write_json
from ..models.zoo import LegacyAdapter, native_block, native_scope
from .run_folder import inference_net, open_run

PREFIX = 'model'
# every file an export may hold; --overwrite replaces only a folder of these
EXPORT_FILES = (f'{PREFIX}-symbol.json', f'{PREFIX}-0000.params', f'{PREFIX}.onnx',
                'export.json')
ONNX_TOLERANCE = 1e-4     # max |logit difference| onnxruntime may show (float32 kernels)
CHECK_BATCH = 8           # images in the fixed check batch
# MXNet 1.9.1's ONNX exporter converts legacy operators only. A numpy-mode net
# (d2l's resnet18) uses two numpy twins of them: _npx_relu computes relu, and
# _npi_add is NumPy's broadcasting add, as broadcast_add (and ONNX's Add).
NUMPY_TWINS = {'_npx_relu': 'relu', '_npi_add': 'broadcast_add'}


def onnx_available():
    """True when the onnx extra (onnx and onnxruntime) is installed; UsageError
    when it is installed but cannot be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ModuleNotFoundError as err:
        if err.name in ('onnx', 'onnxruntime'):
            return False
        raise UsageError(f"the onnx extra is installed but broken ({err}); reinstall it with "
                         "pip install -e \".[onnx]\", or pass --no-onnx") from None
    return True


def _array(net, values):
    """`values` as the input array type of `net`'s native block."""
    return (mx.nd.array if isinstance(net, LegacyAdapter) else mx.np.array)(values)


def reference_batch(normalize):
    """A fixed batch of (CHECK_BATCH, 3, 32, 32) inputs as the test transform makes them."""
    x = onp.random.RandomState(0).randint(0, 256, (CHECK_BATCH, 3, 32, 32)) / 255
    if normalize:
        x = (x - onp.array(CIFAR10_MEAN)[:, None, None]) / onp.array(CIFAR10_STD)[:, None, None]
    return x.astype(onp.float32)


def load_symbol_block(folder):
    """The exported net in `folder` as a ``SymbolBlock``. Load and call a GluonCV
    model's in a legacy scope (``models.native_scope``), d2l's in numpy mode."""
    prefix = os.path.join(folder, PREFIX)
    with warnings.catch_warnings():   # "Cannot decide type for ... data": it is float32
        warnings.simplefilter('ignore', UserWarning)
        return gluon.SymbolBlock.imports(f'{prefix}-symbol.json', ['data'],
                                         f'{prefix}-0000.params')


def _export_mxnet(net, folder, x):
    """Write the MXNet files into `folder`; return the logits of `x` (exact check done)."""
    block = native_block(net)
    with native_scope(net):
        block.hybridize()
        reference = block(_array(net, x)).asnumpy()
        with mxnet_writes(folder):
            block.export(os.path.join(folder, PREFIX))
        reloaded = load_symbol_block(folder)(_array(net, x)).asnumpy()
    if not onp.array_equal(reloaded, reference):
        raise UsageError(f"the exported MXNet files do not reproduce the net (max logit "
                         f"difference {abs(reloaded - reference).max():.3g}); nothing written")
    return reference


def _register_numpy_twins():
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph
    for table in MXNetGraph.registry_.values():
        for twin, op in NUMPY_TWINS.items():
            if op in table:
                table.setdefault(twin, table[op])


def _export_onnx(net, folder, x, reference, model):
    """Write model.onnx into `folder`; return onnxruntime's max logit difference."""
    import onnx
    import onnxruntime
    from mxnet import onnx as mx_onnx
    _register_numpy_twins()
    prefix, path = os.path.join(folder, PREFIX), os.path.join(folder, f'{PREFIX}.onnx')
    try:
        with native_scope(net):   # the params file is read in the semantics it was saved in
            mx_onnx.export_model(f'{prefix}-symbol.json', f'{prefix}-0000.params',
                                 [x.shape], [onp.float32], path, dynamic=True,
                                 dynamic_input_shapes=[(None,) + x.shape[1:]])
    except OSError:   # a full disk: a write failure, not the converter's
        raise
    except Exception as err:   # the exporter raises AttributeError, KeyError, ... per op
        raise UsageError(f"MXNet's ONNX exporter cannot convert {model} ({reason(err)}); pass "
                         "--no-onnx to export the MXNet files alone") from None
    # MXNet lists the weights among the graph inputs too; onnxruntime then warns
    # and cannot fold them as constants: keep only the real input
    proto = onnx.load(path)
    weights = {t.name for t in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in weights]
    del proto.graph.input[:]
    proto.graph.input.extend(inputs)
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3   # errors only
    session = onnxruntime.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    got = session.run(None, {'data': x})[0]
    diff = float(abs(got - reference).max())
    if not diff <= ONNX_TOLERANCE:
        raise UsageError(f"the ONNX model of {model} does not reproduce the net (max logit "
                         f"difference {diff:.3g} > {ONNX_TOLERANCE}); pass --no-onnx to export "
                         "the MXNet files alone")
    return diff


def describe_export(run, legacy, checks, files):
    """export.json: how to feed the files, what they return, where they came from."""
    config = run.config
    return {
        'files': files,
        'input': {'name': 'data', 'shape': ['N', 3, 32, 32], 'dtype': 'float32',
                  'layout': 'NCHW, RGB', 'scale': 'pixel / 255 (ToTensor)',
                  'normalize': {'mean': list(CIFAR10_MEAN), 'std': list(CIFAR10_STD)}
                  if config.normalize else None},
        'output': {'shape': ['N', len(CLASSES)], 'meaning': 'logits: softmax gives the '
                   'class probabilities'},
        'classes': list(CLASSES),
        'mxnet_load': (f"gluon.SymbolBlock.imports('{PREFIX}-symbol.json', ['data'], "
                       f"'{PREFIX}-0000.params') in " +
                       ('a plain MXNet session (legacy NDArray; GluonCV model)' if legacy
                        else 'numpy mode: call mxnet.npx.set_np() first')),
        'checks': checks, 'run': os.path.abspath(run.path),
        'config': dataclasses.asdict(config),
        'made_by': f'gluon_aug {run.made_by}',
    }


def check_export_out(out, overwrite):
    """UsageError unless `out` is absent, an empty folder, or (with `overwrite`) a
    folder holding an earlier export's files and nothing else."""
    if os.path.lexists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out!r} is a file, not a folder; pass a folder path")
    names = sorted(os.listdir(out)) if os.path.isdir(out) else []
    if names and not overwrite:
        raise UsageError(f"--out {out!r} already holds files ({', '.join(names[:3])}"
                         f"{', ...' if len(names) > 3 else ''}); pass an empty or new "
                         "folder, or --overwrite to replace the export in it")
    foreign = [n for n in names if n not in EXPORT_FILES or os.path.islink(os.path.join(out, n))
               or not os.path.isfile(os.path.join(out, n))]
    if foreign:
        raise UsageError(f"--out {out!r} holds {foreign[0]!r}, which is not a file an export "
                         "writes; --overwrite replaces an earlier export's folder whole: pass "
                         "such a folder, an empty one or a new one")


def _exchange(a, b):
    """Swap the folders `a` and `b` in one step (Linux renameat2 RENAME_EXCHANGE);
    False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        exchange = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if exchange(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EPERM):   # not on this file system
        return False
    raise OSError(err, os.strerror(err), b)


def publish(staging, out, overwrite):
    """Make the folder `staging` the folder `out`, holding a lock on their parent
    while `out` is checked again (another export may have finished there since)
    and replaced: an export appears, or replaces the one before, whole."""
    parent = os.path.dirname(os.path.abspath(out))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)   # mkdtemp made it private
    lock = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)   # held for a few renames
        check_export_out(out, overwrite)
        if not os.path.exists(out):
            os.rename(staging, out)
        elif not _exchange(staging, out):   # staging now holds the folder replaced
            old = tempfile.mkdtemp(prefix='.export-old-', dir=parent)
            os.rename(out, os.path.join(old, 'out'))
            os.rename(staging, out)
            shutil.rmtree(old, ignore_errors=True)
        fsync_folder(parent)
    finally:
        os.close(lock)


def export_run(path, out, onnx=True, overwrite=False):
    """Export the run in `path` into folder `out` (see the module docstring);
    ONNX too when `onnx` and the extra is installed. Every file is written and
    checked in a staging folder beside `out`, which then becomes `out` (with
    `overwrite`, replacing the earlier export there whole). Returns export.json."""
    run = open_run(path)
    check_mxnet_path(out, '--out')
    check_export_out(out, overwrite)
    net = inference_net(run)
    legacy, x = isinstance(net, LegacyAdapter), reference_batch(run.config.normalize)
    parent = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix='.export-', dir=parent)   # same disk: renames
    except OSError as err:
        raise UsageError(f"--out {out!r}: cannot write beside it ({err.strerror or err}); "
                         "pass a folder you can write to") from None
    hint = '; nothing was exported: free space or pass another --out'
    try:
        reference = _export_mxnet(net, staging, x)
        checks = {'batch': f'{CHECK_BATCH} fixed random images', 'symbolblock': 'exact'}
        wants_onnx = onnx and onnx_available()
        if wants_onnx:
            checks['onnxruntime_max_abs_diff'] = _export_onnx(net, staging, x, reference,
                                                              run.config.model)
        files = sorted(os.listdir(staging)) + ['export.json']
        info = describe_export(run, legacy, checks, files)
        write_json(os.path.join(staging, 'export.json'), info)
        for name in files:   # durable before they become visible
            with open(os.path.join(staging, name), 'rb+') as f:
                os.fsync(f.fileno())
        publish(staging, out, overwrite)
    except OSError as err:
        raise write_failure(out, err, hint) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"wrote {', '.join(os.path.join(out, f) for f in files)}")
    if not wants_onnx:
        print('model.onnx: not written (' + ('--no-onnx' if not onnx else
              'the onnx extra is not installed: pip install -e ".[onnx]"') + ')')
    return info
