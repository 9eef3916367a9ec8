"""Seeded, resumable sampling: the same augmentations whatever the worker layout.

Gluon's ``RandomSampler`` shuffles with NumPy's global generator, and forked
DataLoader workers inherit one copy of every generator, so workers repeat
each other's "random" augmentations unless each is seeded apart (and
``mx.random.seed`` does not reach the shuffling: apache/mxnet#9335).

Here the sampler owns the randomness. For epoch ``e`` it draws, from a
generator seeded with ``(seed, e)``, the order of the examples and one seed
per example; it yields ``(index, sample_seed)`` pairs. ``SeededTransform``
seeds Python's ``random``, NumPy and MXNet with ``sample_seed`` right before
transforming that example. So an example's augmentation depends only on
``(seed, epoch, position)``: runs repeat exactly with 0, 2 or 8 workers,
processes or threads, and a run resumed at (epoch, batch) sees the same
batches as one that never stopped. Cost: about 30 us of seeding per example.

Distributed workers share one plan: worker ``index`` of ``num_parts`` takes
its own contiguous span of each epoch's order, the same number of full
batches on every worker (a dist kvstore needs every worker to push equally
often, and ``Trainer.step`` refuses a changed batch size); the rest of the
epoch is dropped, a different rest every epoch.
"""
import threading

import numpy as onp

from .._mxnet import gluon, mx
from ..errors import UsageError
from ..seeding import seed_everything


class EpochSampler(gluon.data.Sampler):
    """Yields ``(index, sample_seed)`` for one epoch per ``iter()``.

    Parameters
    ----------
    length : int
        Number of examples.
    shuffle : bool
        Draw a new order each epoch (training) or keep 0..length-1 (testing).
    seed : int
        Base seed; epoch ``e`` uses the generator seeded with ``(seed, e)``.
    part : (num_parts, index) or None
        Yield only worker `index`'s span of each epoch: ``length // num_parts
        // batch_size`` full batches of `batch_size`, from the shared plan.
    """

    def __init__(self, length, shuffle, seed, part=None, batch_size=None):
        self.length, self.shuffle, self.seed = length, shuffle, int(seed)
        self.epoch = 0   # the epoch the next iter() yields
        self.start = 0   # examples of that epoch to skip (resuming mid-epoch)
        self.offset, self.span = 0, length   # this worker's positions of the plan
        if part is not None:
            num_parts, index = part
            if not (isinstance(num_parts, int) and isinstance(index, int)
                    and 0 <= index < num_parts):
                raise UsageError(f"part must be (num_parts, index) with 0 <= index < "
                                 f"num_parts, got {part!r}")
            per_worker = length // num_parts
            if per_worker < batch_size:
                raise UsageError(
                    f"--batch-size {batch_size} per worker is more than the {per_worker} "
                    f"training examples each of the {num_parts} workers gets; pass a "
                    f"--batch-size of at most {per_worker} or use fewer workers")
            self.span = per_worker // batch_size * batch_size
            self.offset = index * self.span

    def plan(self, epoch):
        """(order, per-example seeds) of `epoch`, as NumPy arrays."""
        rng = onp.random.RandomState([self.seed, epoch])
        order = rng.permutation(self.length) if self.shuffle else onp.arange(self.length)
        return order, rng.randint(0, 2 ** 31 - 1, size=self.length)

    def set_position(self, epoch, start=0):
        """Make the next iter() yield `epoch` from example `start` on."""
        self.epoch, self.start = epoch, start

    def __iter__(self):
        order, seeds = self.plan(self.epoch)
        start, self.start = self.start, 0
        self.epoch += 1
        for i in range(self.offset + start, self.offset + self.span):
            yield int(order[i]), int(seeds[i])

    def __len__(self):
        return self.span


# Threads (DataLoader(thread_pool=True)) share the process's generators: seeding
# and drawing must not interleave, so one thread at a time transforms.
_GENERATORS = threading.Lock()


class SeededTransform(gluon.data.Dataset):
    """``dataset.transform_first(fn)`` for keys ``(index, sample_seed)``.

    A transform that raises is reported with the example's index.
    """

    def __init__(self, dataset, fn):
        self._dataset, self._fn = dataset, fn

    def __len__(self):
        return len(self._dataset)

    def __getitem__(self, key):
        idx, sample_seed = key
        img, label = self._dataset[idx]
        with _GENERATORS:
            seed_everything(sample_seed, ctx=mx.cpu())
            try:
                return self._fn(img), label
            except Exception as err:
                raise RuntimeError(f"augmentation failed on example {idx}: "
                                   f"{type(err).__name__}: {err}") from err
