"""Data-parallel training across processes on MXNet's own kvstore.

``--kvstore NAME`` is handed to ``gluon.Trainer`` unchanged in meaning:

=====================  ===========================================================
``device``             the book's default: gradients summed on the devices (GPUs)
``local``              summed on the CPU
``dist_sync``          MXNet's parameter server, synchronous (every worker steps together)
``dist_device_sync``   the same, summing each worker's devices on the device first
``dist_async``         parameter server, asynchronous (each push updates at once)
``none``               no kvstore: the Trainer updates each device copy itself
=====================  ===========================================================

A ``dist_*`` kvstore needs a parameter-server job: one scheduler, one or more
servers and the workers, each a process started with ``DMLC_ROLE`` and the
shared ``DMLC_PS_ROOT_URI``, ``DMLC_PS_ROOT_PORT``, ``DMLC_NUM_SERVER``,
``DMLC_NUM_WORKER`` (``python -m train.launch`` starts them on one machine).
Importing MXNet with ``DMLC_ROLE=server`` or ``scheduler`` runs that role and
exits; workers run the training program.

What this module adds around MXNet's kvstore:

- ``check_kvstore`` validates the name and, for ``dist_*``, the ``DMLC_*``
  variables, with a one-line ``UsageError`` saying how to launch.
- ``create_kvstore`` joins the job with a timeout (``GLUON_AUG_KVSTORE_TIMEOUT``
  seconds, default 120): first it waits for the scheduler's port to accept a
  connection, then for MXNet to finish joining (which waits for every worker
  and server); either failing raises ``UsageError`` instead of hanging forever.
  It announces ``gluon_aug: joined dist_sync as worker rank R of N`` on stderr
  (``train.launch`` uses it to prefix that worker's output with its rank).
- each worker reads its own span of every epoch's shared, seeded plan, with
  the same number of full batches on every worker (``sampling.EpochSampler``
  with `part`): the dist kvstore needs every worker to push the same number
  of times, and ``Trainer.step`` refuses a changed batch size on a dist
  kvstore.
- ``optimizer_rescale`` makes ``Trainer.step(local batch)`` average over the
  global batch: MXNet's ``dist_sync`` server *sums* the workers' gradients and
  applies the optimizer with ``rescale_grad = 1/local batch`` (checked: two
  workers stepping 4 examples each moved the weights exactly as one process
  stepping 8 examples with ``step(4)``, i.e. twice the mean gradient). MXNet's
  Module API divides by ``num_workers`` for the same reason; here the
  optimizer gets ``rescale_grad=1/num_workers``, so a ``dist_sync`` run with W
  workers at batch B computes exactly what one process computes at batch W*B.
- ``trainer_kwargs``: a synchronous dist kvstore updates on the workers
  (``update_on_kvstore=False``): the servers sum the gradients, every worker
  applies the same optimizer step to the same weights. MXNet's default would
  keep the optimizer state on the servers, and MXNet 1.9.1 has no call to
  read it back (the server answers only set-optimizer, sync-mode,
  compression, profiler and stop commands), so a checkpoint could not hold
  it; on the workers, rank 0's checkpoint does.
- ``worker_seed``, ``broadcast_seed``: all workers use rank 0's run seed; each
  seeds its own generators with a seed derived from (run seed, rank).
"""
import contextlib
import os
import socket
import sys
import threading
import time
import traceback

import numpy as onp

from .._mxnet import mx
from ..errors import UsageError

KVSTORES = ('device', 'local', 'dist_sync', 'dist_device_sync', 'dist_async', 'none')
DMLC_VARS = ('DMLC_ROLE', 'DMLC_PS_ROOT_URI', 'DMLC_PS_ROOT_PORT', 'DMLC_NUM_SERVER',
             'DMLC_NUM_WORKER')
TIMEOUT_VAR = 'GLUON_AUG_KVSTORE_TIMEOUT'
DEFAULT_TIMEOUT = 120.0
_LAUNCH_HINT = ("start the job with `python -m train.launch -n WORKERS -- python -m train.cifar "
                "...`, or set the DMLC_* variables on every process (docs/DISTRIBUTED.md)")
_SEED_KEY = 1 << 30   # kvstore key for the seed broadcast; Trainer uses keys 0..P-1


def is_distributed(kvstore):
    """True for a ``dist_*`` name or a distributed ``KVStore``."""
    name = kvstore if isinstance(kvstore, str) or kvstore is None else kvstore.type
    return bool(name) and name.startswith('dist')


def check_kvstore(name, environ=None, strict=True):
    """Validate a kvstore name (and, for dist_*, the DMLC_* variables).

    Returns the name, with ``'none'`` as ``None``. Raises ``UsageError``.
    `strict=False` lets other names MXNet may know (``nccl``, ...) through.
    """
    environ = os.environ if environ is None else environ
    if name is None or name == 'none':
        return None
    if not isinstance(name, str) or (strict and name not in KVSTORES):
        raise UsageError(f"unknown --kvstore {name!r}; choose one of: {', '.join(KVSTORES)}")
    if not is_distributed(name):
        return name
    missing = [v for v in DMLC_VARS if not environ.get(v)]
    if missing:
        raise UsageError(f"--kvstore {name} needs a parameter-server job but {', '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} not set; {_LAUNCH_HINT}")
    if environ['DMLC_ROLE'] != 'worker':
        raise UsageError(f"--kvstore {name}: DMLC_ROLE is {environ['DMLC_ROLE']!r} but training "
                         "runs in the worker processes (DMLC_ROLE=worker); " + _LAUNCH_HINT)
    for var in ('DMLC_PS_ROOT_PORT', 'DMLC_NUM_SERVER', 'DMLC_NUM_WORKER'):
        value = environ[var]
        if not value.isdigit() or int(value) < 1 or (var.endswith('PORT') and int(value) > 65535):
            raise UsageError(f"--kvstore {name}: {var}={value!r} is not a positive "
                             f"{'port number' if var.endswith('PORT') else 'count'}; "
                             + _LAUNCH_HINT)
    return name


def join_timeout(environ=None):
    """Seconds a worker waits to join the job (GLUON_AUG_KVSTORE_TIMEOUT, default 120)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(TIMEOUT_VAR, '')
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UsageError(f"{TIMEOUT_VAR}={raw!r} must be a positive number of seconds")
    return value


def _wait_for_port(host, port, deadline):
    """Return True once host:port accepts a TCP connection, False at the deadline."""
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)


_STUCK = []   # threads left blocked inside MXNet after a timed-out join


def _exit_hard_at_exit():
    # A thread blocked in ps-lite makes a normal interpreter exit abort (C++
    # std::terminate); leave without running C++ destructors instead.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(2)


def create_kvstore(kvstore, timeout=None):
    """Return what ``gluon.Trainer(kvstore=...)`` takes for `kvstore`.

    Names of local kvstores (and ``None``) are returned as they are; the
    Trainer creates them. For ``dist_*`` this process joins the job and the
    ``KVStore`` is returned; joining waits at most `timeout` seconds (default:
    ``join_timeout()``) and raises ``UsageError`` when the scheduler is not
    reachable or the job does not start. A ``KVStore`` object passes through.
    """
    if kvstore is not None and not isinstance(kvstore, str):
        return kvstore
    name = check_kvstore(kvstore, strict=False)
    if not is_distributed(name):
        return name
    timeout = join_timeout() if timeout is None else timeout
    host, port = os.environ['DMLC_PS_ROOT_URI'], int(os.environ['DMLC_PS_ROOT_PORT'])
    deadline = time.monotonic() + timeout
    if not _wait_for_port(host, port, deadline):
        raise UsageError(f"--kvstore {name}: cannot reach the scheduler at {host}:{port} within "
                         f"{timeout:g} s; start it first (DMLC_ROLE=scheduler), check "
                         f"DMLC_PS_ROOT_URI/PORT, or raise {TIMEOUT_VAR}")
    box = {}

    def join():
        try:
            box['kv'] = mx.kv.create(name)
        except BaseException as err:  # noqa: B902  (reported below)
            box['error'] = err

    thread = threading.Thread(target=join, name='kvstore-join', daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        _STUCK.append(thread)
        import atexit
        atexit.register(_exit_hard_at_exit)
        raise UsageError(
            f"--kvstore {name}: reached the scheduler at {host}:{port} but the job did not start "
            f"within {timeout:g} s; are all DMLC_NUM_WORKER={os.environ['DMLC_NUM_WORKER']} "
            f"workers and DMLC_NUM_SERVER={os.environ['DMLC_NUM_SERVER']} servers running? "
            f"(or raise {TIMEOUT_VAR})")
    if 'error' in box:
        raise box['error']
    kv = box['kv']
    print(f"gluon_aug: joined {kv.type} as worker rank {kv.rank} of {kv.num_workers}",
          file=sys.stderr, flush=True)
    return kv


def rank_and_size(kvstore):
    """(rank, num_workers): (0, 1) unless `kvstore` is a distributed KVStore."""
    if is_distributed(kvstore) and not isinstance(kvstore, str):
        return kvstore.rank, kvstore.num_workers
    return 0, 1


def optimizer_rescale(kvstore):
    """Extra optimizer parameters so ``Trainer.step(local batch)`` averages over
    the global batch: ``{'rescale_grad': 1/num_workers}`` for a synchronous
    dist kvstore (whose server sums the workers' gradients), else ``{}``."""
    size = rank_and_size(kvstore)[1]
    if size > 1 and 'async' not in kvstore.type:
        return {'rescale_grad': 1.0 / size}
    return {}


def trainer_kwargs(kvstore):
    """Extra ``gluon.Trainer`` keywords for `kvstore`: ``update_on_kvstore=False``
    for a synchronous dist kvstore (see the module docstring), else none."""
    if is_distributed(kvstore) and not isinstance(kvstore, str) and 'async' not in kvstore.type:
        return {'update_on_kvstore': False}
    return {}


def worker_seed(seed, rank, num_workers):
    """The seed worker `rank` seeds its generators with: `seed` itself in a
    one-process run, else one derived from (seed, rank), distinct per rank."""
    if num_workers <= 1:
        return seed
    return int(onp.random.SeedSequence([seed, rank]).generate_state(1)[0] % (2 ** 31))


def broadcast_seed(kvstore, seed):
    """Return rank 0's `seed` on every worker (a dist kvstore keeps the value
    rank 0 initialises a key with)."""
    if rank_and_size(kvstore)[1] <= 1:
        return seed
    halves = mx.nd.array([seed >> 16, seed & 0xFFFF], dtype='float32')  # exact below 2**24
    kvstore.init(_SEED_KEY, halves)
    out = mx.nd.zeros((2,), dtype='float32')
    kvstore.pull(_SEED_KEY, out=out)
    hi, lo = (int(v) for v in out.asnumpy())
    return (hi << 16) | lo


@contextlib.contextmanager
def exit_promptly_on_error(kvstore):
    """In a distributed worker, turn an error into a prompt process exit.

    After joining, a normal interpreter exit waits in MXNet's kvstore shutdown
    for the other workers (a barrier) and would hang if they are still
    training; this prints the error (one line for ``UsageError``, else the
    traceback) and leaves at once with status 2 or 1. Elsewhere it does nothing.
    """
    if not (is_distributed(kvstore) and not isinstance(kvstore, str)):
        yield
        return
    try:
        yield
    except UsageError as err:
        spec = getattr(sys.modules.get('__main__'), '__spec__', None)
        prog = f"python -m {spec.name}" if spec is not None else 'gluon_aug'
        print(f"{prog}: error: {err}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(2)
    except BaseException:  # noqa: B902  (any failure must end this worker)
        traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
