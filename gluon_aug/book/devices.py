"""Devices: the book's ``try_gpu``/``try_all_gpus``/``split_batch`` and a spec parser.

A device spec is what ``--devices`` takes:

==============  =====================================================
``gpu``         every GPU MXNet sees
``gpu:2``       the first two GPUs (a single number is a count)
``gpu:0,1``     GPUs 0 and 1 (a comma list is indices; ``gpu:3,`` is GPU 3 alone)
``gpu(3)``      GPU 3, written as MXNet prints it; ``gpu(0),gpu(1)`` works too
``cpu``         one CPU context
``cpu:2``       two CPU contexts: exercises split-batch training without GPUs
==============  =====================================================
"""
import re

from .._mxnet import gluon, npx
from ..errors import UsageError


def num_gpus():
    """Number of GPUs MXNet can use (0 with the CPU build)."""
    try:
        return npx.num_gpus()
    except Exception:  # CPU builds may raise instead of returning 0
        return 0


def try_gpu(i=0):
    """Return gpu(i) if exists, otherwise return cpu() (d2l, sec_use_gpu)."""
    return npx.gpu(i) if num_gpus() >= i + 1 else npx.cpu()


def try_all_gpus():
    """Return all available GPUs, or [cpu()] if there is no GPU (d2l, sec_use_gpu)."""
    devices = [npx.gpu(i) for i in range(num_gpus())]  # fix: num_gpus, CPU builds may raise
    return devices if devices else [npx.cpu()]


def split_batch(X, y, devices):
    """Split `X` and `y` into multiple devices (d2l, sec_multi_gpu_concise).

    Unlike the book's, a batch that does not divide evenly (a last batch, a
    --limit-train N, three devices) is split unevenly instead of raising; a
    batch smaller than the device count leaves some devices idle, which
    ``trainer.step(..., ignore_stale_grad=True)`` allows.
    """
    if X.shape[0] != y.shape[0]:  # fix: a ValueError where the book asserts
        raise ValueError(f"split_batch: {X.shape[0]} examples but {y.shape[0]} labels")
    # fix: even_split=False, the book's default (True) raises on an uneven batch
    X_shards = gluon.utils.split_and_load(X, devices, even_split=False)
    y_shards = gluon.utils.split_and_load(y, devices, even_split=False)
    if X.shape[0] < len(devices):  # fix: MXNet then returns empty shards: drop them
        keep = [i for i, shard in enumerate(X_shards) if shard.shape[0]]
        X_shards, y_shards = [X_shards[i] for i in keep], [y_shards[i] for i in keep]
    return X_shards, y_shards


_SPEC_HELP = ("use gpu, gpu:N (first N), gpu:0,1 (indices), gpu(3), cpu or cpu:N "
              "(N CPU contexts)")
# CPU contexts stand in for GPUs (split-batch on a machine without them); each holds
# a copy of the net and its own engine queue, and MXNet makes them one by one: tens
# of thousands take hours and memory before the first step
MAX_CPU_CONTEXTS = 64


def _cpus(indices, spec):
    if len(indices) > MAX_CPU_CONTEXTS or max(indices) >= MAX_CPU_CONTEXTS:
        raise UsageError(f"--devices {spec!r} asks for CPU contexts up to cpu("
                         f"{max(indices)}); CPU contexts stand in for GPUs, each with a copy "
                         f"of the net: pass at most cpu:{MAX_CPU_CONTEXTS} (cpu:2 shows the "
                         "split-batch path)")
    return [npx.cpu(i) for i in indices]


def _check_gpus(indices, spec):
    have = num_gpus()
    missing = [i for i in indices if i >= have]
    if missing:
        raise UsageError(
            f"--devices {spec!r} asks for GPU {', '.join(map(str, missing))} but MXNet "
            f"sees {have} GPU(s); pass --devices cpu (or cpu:2 for split-batch on CPU)"
            + ("" if have else ", or install the GPU build on a GPU machine"))
    return [npx.gpu(i) for i in indices]


def parse_devices(spec=None):
    """Turn a device spec (see module docstring) into a list of contexts.

    ``None`` or ``''`` gives the book's default: all GPUs, else one CPU.
    """
    if spec is None or spec.strip() == '':
        return try_all_gpus()
    s = spec.strip().lower().replace(' ', '')
    bad = UsageError(f"--devices {spec!r} is not a device spec; {_SPEC_HELP}")
    if re.fullmatch(r'gpu\(\d+\)(,gpu\(\d+\))*', s):
        return _check_gpus([int(i) for i in re.findall(r'\d+', s)], spec)
    m = re.fullmatch(r'(cpu|gpu)(?::(.*))?', s)
    if not m:
        raise bad
    kind, arg = m.group(1), m.group(2)
    if arg is None:
        if kind == 'cpu':
            return [npx.cpu()]
        if num_gpus() == 0:
            raise UsageError(f"--devices {spec!r}: MXNet sees no GPU; pass --devices cpu "
                             "(or cpu:2), or install the GPU build on a GPU machine")
        return try_all_gpus()
    if re.fullmatch(r'\d+', arg):
        n = int(arg)
        if n < 1:
            raise UsageError(f"--devices {spec!r}: the count must be at least 1; {_SPEC_HELP}")
        return _cpus(range(n), spec) if kind == 'cpu' else _check_gpus(range(n), spec)
    if re.fullmatch(r'\d+(,\d+)*,?', arg):
        indices = [int(i) for i in arg.split(',') if i]
        if len(set(indices)) != len(indices):
            raise UsageError(f"--devices {spec!r} names a device twice; {_SPEC_HELP}")
        return _cpus(indices, spec) if kind == 'cpu' else _check_gpus(indices, spec)
    raise bad
