"""One checkpoint file holding everything a run needs to continue exactly.

``checkpoint.pkl`` in the run's ``--out`` folder is a pickled dict with fixed
keys: ``version``, ``params`` (every parameter's value on every device, as
an ``.npz``: ``net.save_parameters`` would average the devices' copies, and
BatchNorm's running statistics differ per device in split-batch training),
``trainer`` (the bytes of ``trainer.save_states``: optimizer state and update
counts), and ``state`` (epoch and batch position, the epoch's running sums,
the history so far, the animator's points, the configuration). It is written
to a temporary file, flushed to disk and renamed over the previous one, so a
crash at any moment leaves either the old or the new checkpoint, never half
of one. Only the latest is kept (ResNet-18 with Adam is ~135 MB a copy).

RNG state needs no saving: the loader's randomness is a function of (seed,
epoch, position) (see sampling.py) and the training step draws none.
"""
import io
import os
import pickle
import tempfile

import numpy as onp

from . import faults
from ._mxnet import mx
from .errors import UsageError

FILENAME = 'checkpoint.pkl'
VERSION = 1
KEYS = {'version', 'params', 'trainer', 'state'}


def params_bytes(net):
    """Every parameter on every device, exactly, as ``.npz`` bytes."""
    # keyed by position, not name: Gluon's name prefixes count instances per process
    arrays = {f'{j}:{i}': data.asnumpy()
              for j, p in enumerate(net.collect_params().values())
              for i, data in enumerate(p.list_data())}
    buf = io.BytesIO()
    onp.savez(buf, **arrays)
    return buf.getvalue()


def load_params_bytes(net, blob):
    """Inverse of ``params_bytes``, on a net initialized on the same devices."""
    with onp.load(io.BytesIO(blob)) as saved:
        if len(saved.files) != sum(len(p.list_data()) for p in net.collect_params().values()):
            raise ValueError('the checkpoint holds another number of parameter arrays')
        for j, p in enumerate(net.collect_params().values()):
            for i, data in enumerate(p.list_data()):
                value = saved[f'{j}:{i}']
                if value.shape != data.shape:
                    raise ValueError(f'parameter {p.name}: checkpoint shape {value.shape}, '
                                     f'model shape {data.shape}')
                # copyto, not data[:] = ...: it also writes arrays in oneDNN's layout
                array = mx.np.array if isinstance(data, mx.np.ndarray) else mx.nd.array
                array(value, dtype=data.dtype).copyto(data)


def _bytes_of(save, directory):
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = os.path.join(tmp, 'blob')
        save(path)
        with open(path, 'rb') as f:
            return f.read()


def save_checkpoint(out, net, trainer, state):
    """Atomically replace ``out/checkpoint.pkl`` with the current run state."""
    blob = pickle.dumps({'version': VERSION,
                         'params': params_bytes(net),
                         'trainer': _bytes_of(trainer.save_states, out),
                         'state': state}, protocol=pickle.HIGHEST_PROTOCOL)
    path = os.path.join(out, FILENAME)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(blob[:len(blob) // 2])
        faults.hit('checkpoint')  # the resume tests die here, half-way through
        f.write(blob[len(blob) // 2:])
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(out):
    """Read ``out/checkpoint.pkl``; UsageError if it is missing or corrupt."""
    path = os.path.join(out, FILENAME)
    if not os.path.isfile(path):
        raise UsageError(f"--resume {out!r} holds no checkpoint ({FILENAME}); start the run "
                         "without --resume, or pass the --out folder of a run that saved one")
    try:
        with open(path, 'rb') as f:
            ckpt = pickle.load(f)
        if not isinstance(ckpt, dict) or set(ckpt) != KEYS:
            raise ValueError('unexpected contents')
    except Exception as err:
        raise UsageError(f"checkpoint {path} is corrupt ({type(err).__name__}: {err}); "
                         "delete it and start again without --resume") from None
    if ckpt['version'] != VERSION:
        raise UsageError(f"checkpoint {path} has format version {ckpt['version']}, this "
                         f"gluon_aug reads version {VERSION}; resume with the version that "
                         "wrote it")
    return ckpt


def restore(ckpt, net, trainer, directory):
    """Load the checkpoint's parameters (per device) and trainer states."""
    # Parameters first: with update_on_kvstore the kvstore takes its weight copy
    # from them when load_states initializes it...
    load_params_bytes(net, ckpt['params'])
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        states = os.path.join(tmp, 'states')
        with open(states, 'wb') as f:
            f.write(ckpt['trainer'])
        trainer.load_states(states)
    # ...and again after: that initialization broadcasts device 0's values to every
    # device, overwriting the per-device BatchNorm running statistics.
    load_params_bytes(net, ckpt['params'])


# Configuration keys a resumed run must share with the checkpoint: anything
# that changes what the next step computes. (epochs may grow; num_workers,
# thread_pool and progress change nothing.)
MATTERS = ('model', 'aug', 'normalize', 'aug_backend', 'batch_size', 'lr', 'optimizer',
           'devices', 'data', 'limit_train', 'limit_test', 'seed', 'kvstore')


def check_same_config(saved, config, out):
    """UsageError naming the first setting where `config` differs from `saved`."""
    for key in MATTERS:
        if saved.get(key) != config.get(key):
            raise UsageError(
                f"--resume {out!r} was trained with {key}={saved.get(key)!r}, this run has "
                f"{key}={config.get(key)!r}; pass the same settings, or start a new --out")


class Checkpointer:
    """Saves after every epoch (and every `every` batches) and restores on resume.

    Its ``setup``, ``on_batch`` and ``on_epoch`` plug into
    ``train_with_data_aug``; `history` (a list) and `animator` are the run's.
    """

    def __init__(self, out, config, history, animator, every=None, ckpt=None):
        self.out, self.config, self.history, self.animator = out, config, history, animator
        self.every, self.ckpt = every, ckpt
        self.net = self.trainer = None

    def setup(self, net, trainer, train_iter):
        self.net, self.trainer = net, trainer
        if self.ckpt is None:
            return None
        state = self.ckpt['state']
        restore(self.ckpt, net, trainer, self.out)
        train_iter.epoch_sampler.set_position(state['epoch'],
                                              state['batch'] * self.config['batch_size'])
        self.history[:] = state['history']
        self.animator.X, self.animator.Y = state['animator']
        return {k: state[k] for k in ('epoch', 'batch', 'sums')}

    def save(self, epoch, batch, sums):
        if self.out is None:
            return
        save_checkpoint(self.out, self.net, self.trainer, {
            'epoch': epoch, 'batch': batch, 'sums': sums, 'history': list(self.history),
            'animator': [self.animator.X, self.animator.Y], 'config': self.config})

    def on_batch(self, epoch, done, sums):
        if self.every and done % self.every == 0:
            self.save(epoch, done, sums)

    def on_epoch(self, record):
        self.history.append(record)
        self.save(record['epoch'], 0, [0.0] * 4)
