"""The loaders of ``train.cifar``'s default mode, beside the book's ``load_cifar10``.

``cifar_loader`` reads the same ``CIFAR10`` dataset and applies the same
per-image transform as the book's loader, and adds what a long, repeatable
run needs: per-example seeding (``sampling.EpochSampler``: the order and
every augmentation depend only on (seed, epoch, position), so runs repeat
and resume exactly whatever the workers), a span of each epoch per
distributed worker, and a ``DataLoader`` whose dead or hung workers end the
run with one line.
"""
import multiprocessing

from ._mxnet import gluon
from .data import CIFAR10, get_dataloader_workers, limited
from .errors import RunError, UsageError
from .presets import eval_transform
from .sampling import EpochSampler, SeededTransform


class DataLoader(gluon.data.DataLoader):
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
        return DataLoader(dataset.transform_first(augs), batch_size=batch_size,
                          shuffle=is_train, **common)
    sampler = EpochSampler(len(dataset), is_train, seed, part=shard, batch_size=batch_size)
    return DataLoader(SeededTransform(dataset, augs), batch_size=batch_size,
                      epoch_sampler=sampler, **common)


def loading_of(config):
    """The loader settings of a run (a ``RunConfig``): data folder, workers, timeout, seed."""
    return {'root': config.data, 'num_workers': config.num_workers,
            'thread_pool': config.thread_pool, 'timeout': config.loader_timeout,
            'seed': config.seed}


def run_test_loader(config, **loading):
    """The test loader of the run `config` describes: the deterministic test
    transform, its batch size and --limit-test, in order. `loading` replaces
    settings of ``loading_of(config)`` (the data folder, the workers), none of
    which changes a batch."""
    return cifar_loader(False, eval_transform(config.normalize), config.batch_size,
                        limit=config.limit_test, **dict(loading_of(config), **loading))
