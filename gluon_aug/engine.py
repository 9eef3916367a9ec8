"""The book's multi-device training loop (sec_image_augmentation).

``train_batch_ch13`` splits a batch across devices, records one loss per
shard, back-propagates each and calls ``trainer.step(labels.shape[0],
ignore_stale_grad=True)``. ``train_ch13`` runs epochs, times only the batch
steps and prints the book's two closing lines. Where augmentation runs is
not the engine's business: per-sample augmentation happens in the loader,
and a per-batch, on-device augmenter can be given as a `split_f` that
augments each shard after splitting it.
"""
import math
import time

from tqdm.auto import tqdm

from . import faults
from ._mxnet import autograd, gluon, init, np
from .data import load_cifar10
from .devices import split_batch, try_all_gpus
from .errors import RunError
from .distributed import create_kvstore, optimizer_rescale, rank_and_size
from .metrics import Accumulator, Timer, accuracy
from .plotting import Animator


def evaluate_accuracy_gpus(net, data_iter, split_f=split_batch):
    """Compute the accuracy for a model on a dataset using multiple GPUs
    (d2l, sec_multi_gpu_concise).

    Runs outside ``autograd.record``, so BatchNorm uses its running statistics.
    """
    # Query the list of devices
    devices = list(net.collect_params().values())[0].list_ctx()
    # No. of correct predictions, no. of predictions
    metric = Accumulator(2)
    for features, labels in data_iter:
        X_shards, y_shards = split_f(features, labels, devices)
        # Run in parallel
        pred_shards = [net(X_shard) for X_shard in X_shards]
        metric.add(sum(float(accuracy(pred_shard, y_shard)) for
                       pred_shard, y_shard in zip(pred_shards, y_shards)), labels.size)
    return metric[0] / metric[1]


def train_batch_ch13(net, features, labels, loss, trainer, devices, split_f=split_batch):
    """Train for a minibatch with multiple GPUs (d2l, sec_image_augmentation).

    Returns (sum of the per-example losses, number of correct predictions).
    """
    X_shards, y_shards = split_f(features, labels, devices)
    with autograd.record():
        pred_shards = [net(X_shard) for X_shard in X_shards]
        ls = [loss(pred_shard, y_shard) for pred_shard, y_shard
              in zip(pred_shards, y_shards)]
    for l in ls:
        l.backward()
    # The `True` flag allows parameters with stale gradients, which is useful
    # later (e.g., in fine-tuning BERT)
    trainer.step(labels.shape[0], ignore_stale_grad=True)
    train_loss_sum = sum([float(l.sum()) for l in ls])
    train_acc_sum = sum(accuracy(pred_shard, y_shard)
                        for pred_shard, y_shard in zip(pred_shards, y_shards))
    return train_loss_sum, train_acc_sum


def summary_lines(train_loss, train_acc, test_acc, examples_per_sec, devices):
    """The book's two closing lines of ``train_ch13``."""
    return (f'loss {train_loss:.3f}, train acc {train_acc:.3f}, test acc {test_acc:.3f}',
            f'{examples_per_sec:.1f} examples/sec on {str(devices)}')


def _fault_point_after_first(data_iter, point):
    """Yield from `data_iter`, passing fault point `point` after the first item."""
    for n, item in enumerate(data_iter):
        yield item
        if n == 0:
            faults.hit(point)


def train_ch13(net, train_iter, test_iter, loss, trainer, num_epochs,
               devices=None, split_f=split_batch, *, eval_split_f=None, animator=None,
               progress=True, on_epoch=None, on_batch=None, start=None):
    """Train a model with multiple GPUs (d2l, sec_image_augmentation).

    Prints ``loss L, train acc A, test acc B`` and ``S examples/sec on
    [devices]`` as the book does (S counts only the timed batch steps).
    Keyword additions: `animator` (an ``Animator`` to draw into, e.g. to save
    it afterwards), `progress` (a tqdm bar on stderr), `on_epoch` (called
    with a dict of the epoch's figures after each epoch), `on_batch` (called
    as ``on_batch(epoch, batches_done, sums)`` after each step, `sums` being
    the epoch's running [loss, correct, examples, predictions]), `start`
    (``{'epoch', 'batch', 'sums'}``: continue a run from there; the loader
    must already be positioned, see ``EpochSampler.set_position``).
    `devices=None` means ``try_all_gpus()``, resolved at call time.
    `eval_split_f` splits the test batches (None: `split_f`, as the book
    does; pass ``split_batch`` when `split_f` augments, see ``batch_aug``).
    A loss that is not finite stops training with ``RunError``.
    """
    devices = try_all_gpus() if devices is None else devices
    eval_split_f = split_f if eval_split_f is None else eval_split_f
    timer, num_batches = Timer(), len(train_iter)
    start = start or {'epoch': 0, 'batch': 0, 'sums': [0.0] * 4}
    if animator is None:
        animator = Animator(xlabel='epoch', xlim=[1, num_epochs], ylim=[0, 1],
                            legend=['train loss', 'train acc', 'test acc'])
    # The book plots 5 points an epoch; max() keeps tiny loaders from dividing by 0.
    plot_every = max(1, num_batches // 5)
    bar = tqdm(total=num_epochs * num_batches, disable=not progress, unit='batch',
               dynamic_ncols=True, initial=start['epoch'] * num_batches + start['batch'])
    timed_examples = 0  # examples stepped in this call (a resumed run skips some)
    for epoch in range(start['epoch'], num_epochs):
        # Sum of training loss, sum of training accuracy, no. of examples,
        # no. of predictions
        metric = Accumulator(4)
        first = start['batch'] if epoch == start['epoch'] else 0
        if first:
            metric.add(*start['sums'])
        epoch_start, n_timed, epoch_examples = time.perf_counter(), len(timer.times), 0
        bar.set_description(f'epoch {epoch + 1}/{num_epochs}')
        for i, (features, labels) in enumerate(train_iter, start=first):
            timer.start()
            l, acc = train_batch_ch13(
                net, features, labels, loss, trainer, devices, split_f)
            metric.add(l, acc, labels.shape[0], labels.size)
            timer.stop()
            if not math.isfinite(l):
                raise RunError(f"the training loss became {l} at epoch {epoch + 1}, batch "
                               f"{i + 1}; lower --lr (the last checkpoint, if any, is kept)")
            epoch_examples += labels.shape[0]
            bar.update(1)
            if (i + 1) % plot_every == 0 or i == num_batches - 1:
                animator.add(epoch + (i + 1) / num_batches,
                             (metric[0] / metric[2], metric[1] / metric[3], None))
                bar.set_postfix(loss=f'{metric[0] / metric[2]:.3f}',
                                acc=f'{metric[1] / metric[3]:.3f}')
            if on_batch is not None:
                on_batch(epoch, i + 1, list(metric.data))
            faults.hit('batch')
        test_acc = evaluate_accuracy_gpus(
            net, _fault_point_after_first(test_iter, 'eval'), eval_split_f)
        animator.add(epoch + 1, (None, None, test_acc))
        timed_examples += epoch_examples
        if on_epoch is not None:
            step_seconds = sum(timer.times[n_timed:])
            on_epoch({'epoch': epoch + 1,
                      'train_loss': metric[0] / metric[2],
                      'train_acc': metric[1] / metric[3],
                      'test_acc': test_acc,
                      'examples': int(metric[2]),
                      'examples_per_sec': epoch_examples / step_seconds if step_seconds else 0.0,
                      'epoch_seconds': time.perf_counter() - epoch_start})
    bar.close()
    if start['epoch'] >= num_epochs:
        return  # nothing was left to train
    # The book prints metric[2] * num_epochs / timer.sum(): the same figure when
    # every epoch was timed here, and still right for a resumed run.
    for line in summary_lines(metric[0] / metric[2], metric[1] / metric[3], test_acc,
                              timed_examples / timer.sum() if timer.times else 0.0,
                              devices):
        print(line)


def train_with_data_aug(train_augs, test_augs, net, lr=0.001, *, batch_size=256,
                        num_epochs=10, devices=None, root=None, num_workers=None,
                        limit_train=None, limit_test=None, optimizer='adam',
                        fresh_init=True, hybridize=True, split_f=split_batch, eval_split_f=None,
                        animator=None, progress=True, on_epoch=None, kvstore='device',
                        seed=None, thread_pool=False, loader_timeout=120, on_batch=None,
                        setup=None):
    """Train `net` on CIFAR-10 with `train_augs`, test with `test_augs`
    (d2l, sec_image_augmentation): Adam, batch 256, 10 epochs by default.

    Unlike the chapter's version, `net` is (re)initialized with Xavier on
    `devices` before training (`fresh_init=True`), so comparing augmentations
    (the chapter's exercise 1) never continues from an already trained net.
    The other keyword arguments are passed to ``load_cifar10`` and
    ``train_ch13``; their defaults reproduce the book.

    `kvstore` goes to ``gluon.Trainer`` (default ``'device'``, the Trainer's
    own): a name (``'local'``, ``'dist_sync'``, ... ``None``/``'none'``) or a
    ``KVStore``. With a distributed one each worker trains on its shard of the
    training set at `batch_size` per worker, all workers test on the whole test
    set, and the gradient is averaged over the global batch (see
    ``gluon_aug.distributed``).

    `seed` makes the loaders' order and augmentations a function of (seed,
    epoch, position) (``sampling.py``); `thread_pool` and `loader_timeout`
    go to the DataLoaders. `setup(net, trainer, train_iter)`, called once
    everything is built, may restore a checkpoint and return ``train_ch13``'s
    `start`; `on_batch` goes to ``train_ch13``.
    """
    kvstore = create_kvstore(kvstore)   # joins a dist_* job; names pass through
    rank, num_dist_workers = rank_and_size(kvstore)  # not num_workers: that is the loader's
    shard = (num_dist_workers, rank) if num_dist_workers > 1 else None
    devices = try_all_gpus() if devices is None else devices
    if fresh_init:
        net.initialize(init=init.Xavier(), ctx=devices, force_reinit=True)
        # Finish the deferred initialization now, while MXNet's generator is as
        # seeded: a loader working in this process re-seeds it per example.
        net(np.zeros((1, 3, 32, 32), ctx=devices[0]))
    loading = {'num_workers': num_workers, 'thread_pool': thread_pool,
               'timeout': loader_timeout, 'seed': seed}
    train_iter = load_cifar10(True, train_augs, batch_size, root, limit=limit_train,
                              shard=shard, **loading)
    test_iter = load_cifar10(False, test_augs, batch_size, root, limit=limit_test, **loading)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), optimizer,
                            {'learning_rate': lr, **optimizer_rescale(kvstore)},
                            kvstore=kvstore)
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    start = setup(net, trainer, train_iter) if setup is not None else None
    train_ch13(net, train_iter, test_iter, loss, trainer, num_epochs, devices,
               split_f, eval_split_f=eval_split_f,
               animator=animator, progress=progress, on_epoch=on_epoch,
               on_batch=on_batch, start=start)
