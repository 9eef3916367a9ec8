"""The chapter's multi-device training code (d2l, sec_image_augmentation).

These functions are the book's, with the book's names, signatures, statements
and printed lines. What they needed beyond the book is marked ``# fix:`` (the
book's quiet hazards, see docs/BOOK.md, "Where the book's names live") or
``# departure:`` (a row of "Departures from the book" in docs/BOOK.md):
``train_with_data_aug`` is the longest, 7 lines in the book, here with the
book's globals as keywords, a fresh init and ``load_cifar10``'s extra keywords. What a long
run needs beyond them (progress bar, resume, checkpoints, the NaN stop,
per-epoch records) lives beside them in ``run/loop.py``, whose ``fit`` takes
each step with this ``train_batch_ch13``.
"""
from .._mxnet import autograd, gluon, init
from ..data.cifar import CIFAR10, get_dataloader_workers, limited
from .devices import split_batch, try_all_gpus
from .metrics import Accumulator, accuracy, Timer
from .plotting import Animator

# The chapter's budget: `batch_size = 256` (a global in the book), Adam with
# `lr=0.001`, and `train_ch13(..., 10, devices)`.
BOOK_BATCH_SIZE, BOOK_LR, BOOK_EPOCHS = 256, 0.001, 10


train_augs = gluon.data.vision.transforms.Compose([
    gluon.data.vision.transforms.RandomFlipLeftRight(),
    gluon.data.vision.transforms.ToTensor()])

test_augs = gluon.data.vision.transforms.Compose([
    gluon.data.vision.transforms.ToTensor()])


def load_cifar10(is_train, augs, batch_size, root=None, *, num_workers=None, limit=None):
    """Read CIFAR-10 and return a DataLoader that applies `augs` to the images
    (d2l, sec_image_augmentation).

    The book's loader: ``transform_first(augs)``, shuffled when training, with
    ``get_dataloader_workers()`` worker processes. Keyword additions (their
    defaults are the book's): `root`, a data folder (None: Gluon's location,
    downloading), `num_workers`, `limit` (keep the first `limit` examples).
    The seeded, resumable loader of ``train.cifar`` is ``data.loaders.cifar_loader``.
    """
    # departure: this CIFAR10 reads any folder of binary files; Gluon's re-downloads
    # a folder whose files' SHA-1s differ from the full set's (the subset's do)
    dataset = limited(CIFAR10(root, train=is_train), limit)
    return gluon.data.DataLoader(
        dataset.transform_first(augs),
        batch_size=batch_size, shuffle=is_train,
        num_workers=get_dataloader_workers() if num_workers is None else num_workers)


def evaluate_accuracy_gpus(net, data_iter, split_f=split_batch):
    """Compute the accuracy for a model on a dataset using multiple GPUs
    (d2l, sec_multi_gpu_concise)."""
    # Query the list of devices
    devices = list(net.collect_params().values())[0].list_ctx()
    # No. of correct predictions, no. of predictions
    metric = Accumulator(2)
    for features, labels in data_iter:
        X_shards, y_shards = split_f(features, labels, devices)
        # Run in parallel
        pred_shards = [net(X_shard) for X_shard in X_shards]
        metric.add(sum(float(accuracy(pred_shard, y_shard)) for
                       pred_shard, y_shard in zip(
                           pred_shards, y_shards)), labels.size)
    return metric[0] / metric[1]


def train_batch_ch13(net, features, labels, loss, trainer, devices,
                     split_f=split_batch):
    """Train for a minibatch with multiple GPUs (d2l, sec_image_augmentation)."""
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


def ch13_animator(num_epochs):
    """The Animator ``train_ch13`` draws into (the book's call, written once)."""
    return Animator(xlabel='epoch', xlim=[1, num_epochs], ylim=[0, 1],
                    legend=['train loss', 'train acc', 'test acc'])


def train_ch13(net, train_iter, test_iter, loss, trainer, num_epochs,
               devices=None, split_f=split_batch, *, animator=None):
    """Train a model with multiple GPUs (d2l, sec_image_augmentation)."""
    devices = try_all_gpus() if devices is None else devices  # fix: resolved when called
    timer, num_batches = Timer(), len(train_iter)
    # departure: a caller may pass its own Animator (to save the curves afterwards)
    animator = animator or ch13_animator(num_epochs)
    history = []  # departure: each epoch's figures, returned below
    plot_every = max(1, num_batches // 5)  # fix: the book divides by 0 below 5 batches
    for epoch in range(num_epochs):
        # Sum of training loss, sum of training accuracy, no. of examples,
        # no. of predictions
        metric = Accumulator(4)
        for i, (features, labels) in enumerate(train_iter):
            timer.start()
            l, acc = train_batch_ch13(
                net, features, labels, loss, trainer, devices, split_f)
            metric.add(l, acc, labels.shape[0], labels.size)
            timer.stop()
            if (i + 1) % plot_every == 0 or i == num_batches - 1:
                animator.add(epoch + (i + 1) / num_batches,
                             (metric[0] / metric[2], metric[1] / metric[3],
                              None))
        test_acc = evaluate_accuracy_gpus(net, test_iter, split_f)
        animator.add(epoch + 1, (None, None, test_acc))
        history.append((metric[0] / metric[2], metric[1] / metric[3], test_acc))  # departure
    print(f'loss {metric[0] / metric[2]:.3f}, train acc '
          f'{metric[1] / metric[3]:.3f}, test acc {test_acc:.3f}')
    print(f'{metric[2] * num_epochs / timer.sum():.1f} examples/sec on '
          f'{str(devices)}')
    return history, metric[2] * num_epochs / timer.sum()  # departure: what was printed


def train_with_data_aug(train_augs, test_augs, net, lr=BOOK_LR, *, batch_size=BOOK_BATCH_SIZE,
                        num_epochs=BOOK_EPOCHS, devices=None, root=None, num_workers=None,
                        limit_train=None, limit_test=None, fresh_init=True, animator=None):
    """Train `net` with image augmentation (d2l, sec_image_augmentation).

    The book reads `batch_size` and `devices` from globals and trains 10
    epochs; here they are keywords with the book's values, and `root`,
    `num_workers`, `limit_*` go to ``load_cifar10``.
    """
    devices = try_all_gpus() if devices is None else devices  # fix: resolved when called
    if fresh_init:  # fix: a fresh net per call, so exercise 1 does not go on training it
        net.initialize(init=init.Xavier(), ctx=devices, force_reinit=True)
    loading = {'root': root, 'num_workers': num_workers}
    train_iter = load_cifar10(True, train_augs, batch_size, limit=limit_train, **loading)
    test_iter = load_cifar10(False, test_augs, batch_size, limit=limit_test, **loading)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), 'adam',
                            {'learning_rate': lr})
    return train_ch13(net, train_iter, test_iter, loss, trainer, num_epochs, devices,
                      animator=animator)  # departure: returns train_ch13's figures
