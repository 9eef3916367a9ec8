"""The loaders of ``train.cifar``'s default mode, beside the book's ``load_cifar10``.

``cifar_loader`` reads the same ``CIFAR10`` dataset and applies the same
per-image transform as the book's loader, and adds what a long, repeatable
run needs: per-example seeding (``sampling.EpochSampler``: the order and
every augmentation depend only on (seed, epoch, position), so runs repeat
and resume exactly whatever the workers), a span of each epoch per
distributed worker, and a ``DataLoader`` whose dead or hung workers end the
run with one line.

``ArrayLoader`` is the fast recipe's (airbench's idea): the whole set in memory
as one normalized array, each batch one gather plus one fused, batched
flip-and-translate whose parameters come from the same seeded plan.
"""
import math
import multiprocessing

import numpy as onp

from .._mxnet import gluon, mx
from ..augment.batch.blocks import BatchAlternatingFlip, BatchFlipLeftRight, BatchPadCrop
from ..augment.batch.geometry import remap
from ..augment.presets import CIFAR10_MEAN, CIFAR10_STD
from ..errors import RunError, UsageError
from ..seeding import seed_everything
from .cifar import CIFAR10, get_dataloader_workers, limited
from .sampling import EpochSampler, SeededTransform


class GuardedDataLoader(gluon.data.DataLoader):
    """Gluon's DataLoader, but a worker that dies or hangs is one clear error.

    (MXNet waits `timeout` seconds for a batch, then raises a bare TimeoutError.)
    `epoch_sampler` is the ``EpochSampler`` of a seeded loader, else None.
    """

    def __init__(self, *args, epoch_sampler=None, **kwargs):
        if epoch_sampler is not None:
            kwargs['sampler'] = epoch_sampler
        super().__init__(*args, **kwargs)
        self.epoch_sampler = epoch_sampler

    def __iter__(self):
        it = super().__iter__()
        while True:
            try:
                batch = next(it)
            except StopIteration:
                return
            except multiprocessing.TimeoutError:
                raise RunError(
                    f"no batch from the DataLoader workers within {self._timeout} s: a worker "
                    "died or hung (out of memory? /dev/shm full?); retry with --num-workers 0, "
                    "--thread-pool, or a larger --loader-timeout") from None
            except (ConnectionError, EOFError) as err:  # a worker died mid-transfer
                raise RunError(
                    f"a DataLoader worker died while sending a batch ({type(err).__name__}); "
                    "retry with --num-workers 0 or --thread-pool") from None
            yield batch


def cifar_loader(is_train, augs, batch_size, root=None, *, timeout, num_workers=None,
                 limit=None, shard=None, thread_pool=False, seed=None):
    """A DataLoader over CIFAR-10 applying `augs` to each image, as ``load_cifar10``.

    `timeout`: seconds a worker may take for one batch. With `seed`, the order
    and every example's augmentation depend only on (seed, epoch, position),
    whatever the workers (``sampling.EpochSampler``); without, it shuffles as
    the book's loader does. `shard=(num_parts, index)` (training, with a
    seed): this distributed worker's span of each epoch's shared plan, the
    same number of full batches on every worker.
    """
    dataset = limited(CIFAR10(root, train=is_train), limit)
    common = {'thread_pool': thread_pool, 'timeout': timeout,
              'num_workers': get_dataloader_workers() if num_workers is None else num_workers}
    if seed is None:
        if shard is not None:
            raise UsageError("a sharded loader needs a seed: every worker draws from one plan")
        return GuardedDataLoader(dataset.transform_first(augs), batch_size=batch_size,
                          shuffle=is_train, **common)
    sampler = EpochSampler(len(dataset), is_train, seed, part=shard, batch_size=batch_size)
    return GuardedDataLoader(SeededTransform(dataset, augs), batch_size=batch_size,
                      epoch_sampler=sampler, **common)


def standardize(x):
    """NCHW float images in [0, 1] standardized with CIFAR-10's channel statistics."""
    mean = onp.array(CIFAR10_MEAN, 'float32').reshape(1, 3, 1, 1)
    std = onp.array(CIFAR10_STD, 'float32').reshape(1, 3, 1, 1)
    return (x - mean) / std


class ArrayLoader:
    """Batches of CIFAR-10 cut from one in-memory array, augmented as a batch.

    The (limited) set is read once, converted to NCHW float32 and standardized
    with CIFAR-10's channel statistics. Every epoch follows the seeded plan of
    an ``EpochSampler`` (`epoch_sampler`: resume positions and distributed
    spans work as for ``cifar_loader``). Training batches are then flipped
    (`flip`: ``'alternating'``, every other epoch per example; ``'random'``;
    or None) and translated by up to `translate` pixels with reflected
    borders, in one gather (``augment.batch.geometry.remap``); the translation and a
    random flip come from the plan's per-example seeds, so a batch depends
    only on (seed, epoch, position). With `sample_augs` (a per-sample
    transform of an HWC uint8 image to a CHW tensor in [0, 1], e.g. a preset),
    each training example goes through it instead, seeded with its plan seed,
    and is then standardized. With `raw`, training batches come as they are
    (NCHW in [0, 1], not standardized: the training step augments and
    standardizes them, ``--aug-backend batch``). Yields (X, y) as a DataLoader does.
    """

    def __init__(self, is_train, batch_size, root=None, *, seed, flip, translate, limit=None,
                 shard=None, sample_augs=None, raw=False):
        dataset = limited(CIFAR10(root, train=is_train), limit)
        self.images = onp.stack([dataset[i][0].asnumpy() for i in range(len(dataset))])
        self.labels = onp.array([dataset[i][1] for i in range(len(dataset))], dtype='int32')
        self.data = mx.np.array(standardize(self.images.transpose(0, 3, 1, 2) / 255.0),
                                dtype='float32')
        self.batch_size, self.is_train = batch_size, is_train
        self.epoch_sampler = EpochSampler(len(self.labels), is_train, seed, part=shard,
                                          batch_size=batch_size)
        # a per-sample preset (``--recipe fast --aug NAME``) replaces the flips and shifts
        self.sample_augs = sample_augs if is_train else None
        self.raw = raw and is_train
        if self.sample_augs is not None or self.raw:
            flip, translate = None, 0
        self.flip = {'alternating': BatchAlternatingFlip(len(self.labels), seed),
                     'random': BatchFlipLeftRight(), None: None}[flip if is_train else None]
        self.crop = BatchPadCrop(translate, reflect=True) if is_train and translate else None

    def augment_each(self, indices, seeds):
        """The examples `indices` through `sample_augs`, each seeded with its plan seed
        (as ``cifar_loader``'s workers do), then standardized. One wait for the batch,
        not one per image (2.4x faster for `flip` under load; the draws are the same:
        MXNet orders a reseed before the random ops that follow it)."""
        out = []
        for idx, sample_seed in zip(indices, seeds):
            seed_everything(int(sample_seed), ctx=mx.cpu())
            out.append(self.sample_augs(mx.np.array(self.images[idx])))
        return mx.np.array(standardize(mx.np.stack(out).asnumpy()), dtype='float32')

    def __len__(self):
        return math.ceil(len(self.epoch_sampler) / self.batch_size)

    def augment(self, x, indices, seeds, epoch):
        """The batch `x` of examples `indices` (their plan seeds `seeds`), augmented."""
        steps = []
        if self.flip is not None:
            bits = (self.flip.flips(indices, epoch) if isinstance(self.flip, BatchAlternatingFlip)
                    else ((seeds >> 7) & 1).astype('float32'))
            steps.append((self.flip, (mx.np.array(bits).reshape(-1, 1, 1, 1),)))
        if self.crop is not None:
            n = 2 * self.crop.pad + 1
            top, left = (seeds % n).astype('float32'), ((seeds // n) % n).astype('float32')
            steps.append((self.crop, tuple(mx.np.array(v).reshape(-1, 1, 1, 1)
                                           for v in (top, left))))
        return remap(mx.nd, x, steps) if steps else x

    def __iter__(self):
        epoch = self.epoch_sampler.epoch
        plan = onp.array(list(self.epoch_sampler), dtype='int64').reshape(-1, 2)
        for i in range(0, len(plan), self.batch_size):
            indices, seeds = plan[i:i + self.batch_size, 0], plan[i:i + self.batch_size, 1]
            if self.sample_augs is not None:
                x = self.augment_each(indices, seeds)
            elif self.raw:
                x = mx.np.array(self.images[indices].transpose(0, 3, 1, 2) / 255.0,
                                dtype='float32')
            else:
                x = self.data.take(mx.np.array(indices, dtype='int32'), axis=0)
                if self.is_train:
                    x = self.augment(x, indices, seeds, epoch)
            yield x, mx.np.array(self.labels[indices], dtype='int32')
