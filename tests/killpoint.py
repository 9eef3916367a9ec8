"""Run ``python -m train.cifar ARGS``, but die with SIGKILL at a named point, as a
power cut or the OOM killer would: the resume tests' fault injection, from outside
the library.

    python tests/killpoint.py POINT:N ARGS...
    python tests/killpoint.py POINT:N --compare ARGS...    (python -m train.compare)

POINT: ``batch`` (right after the N-th training step returns), ``eval`` (after
the first test batch of the N-th evaluation), ``checkpoint`` (half-way through
writing the N-th checkpoint file). ``enospc:N`` does not kill: the N-th
checkpoint write finds the disk full (``OSError(ENOSPC)``), as a real one would.
``interrupt:N`` does not kill either: it presses Ctrl-C (SIGINT) right after the
N-th training step, so the run stops as a user would stop it.
"""
import errno
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from train import cli  # noqa: E402

cli.configure_threads()   # before MXNet loads, as train.cifar's main does

from gluon_aug import files  # noqa: E402
from gluon_aug.run import checkpoint_file, loop  # noqa: E402
from train import cifar  # noqa: E402


def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def counting(fn, nth, after):
    """Wrap `fn`: its `nth` call ends with `after(result, args)`."""
    calls = [0]

    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] == nth:
            return after(fn, args, kwargs)
        return fn(*args, **kwargs)
    return wrapped


def step_then_die(fn, args, kwargs):
    fn(*args, **kwargs)
    die()


def evaluate_then_die(fn, args, kwargs):
    net, data_iter, *rest = args

    def first_batch_only():
        for n, item in enumerate(data_iter):
            yield item
            if n == 0:
                die()
    return fn(net, first_batch_only(), *rest, **kwargs)


def step_then_interrupt(fn, args, kwargs):
    result = fn(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGINT)   # handled: the run stops before the next step
    return result


def half_write_then_die(fn, args, kwargs):
    path, data = args
    with open(files.temp_name(path), 'wb') as f:
        f.write(data[:len(data) // 2])
        f.flush()
        os.fsync(f.fileno())
    die()


class FullDisk:
    """A file whose writes fail with ENOSPC."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def write_on_a_full_disk(fn, args, kwargs):
    files.open = lambda *a, **k: FullDisk(open(*a, **k))   # shadows the builtin
    try:
        return fn(*args, **kwargs)
    finally:
        del files.open


def main():
    point, _, nth = sys.argv[1].partition(':')
    nth = int(nth or 1)
    if point == 'batch':
        loop.train_batch_ch13 = counting(loop.train_batch_ch13, nth, step_then_die)
    elif point == 'eval':
        loop.evaluate_accuracy_gpus = counting(loop.evaluate_accuracy_gpus, nth,
                                               evaluate_then_die)
    elif point == 'checkpoint':
        checkpoint_file.atomic_write = counting(checkpoint_file.atomic_write, nth, half_write_then_die)
    elif point == 'enospc':
        checkpoint_file.atomic_write = counting(checkpoint_file.atomic_write, nth, write_on_a_full_disk)
    elif point == 'interrupt':
        loop.train_batch_ch13 = counting(loop.train_batch_ch13, nth, step_then_interrupt)
    else:
        sys.exit(f'unknown kill point {point!r}: batch, eval, checkpoint, enospc or interrupt')
    if sys.argv[2:3] == ['--compare']:
        from train import compare
        sys.argv = ['train/compare.py'] + sys.argv[3:]
        return compare.main(sys.argv[1:])
    sys.argv = ['train/cifar.py'] + sys.argv[2:]
    return cifar.main(sys.argv[1:])


if __name__ == '__main__':
    sys.exit(main())
