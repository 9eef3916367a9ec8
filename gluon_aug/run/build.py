"""The pieces of one run, built from its settled ``RunConfig`` and its ``Recipe``.

``build_training`` initializes the net on the devices and returns a
``Training``: the loaders, the loss, the Trainer, how batches are split, what
evaluation calls, and the recipe's callbacks (``run/recipes.py``: the book's recipe
has none; the fast ones a learning-rate schedule, weight averaging,
test-time augmentation levels and, in fast94, the whitening bias's freeze).
"""
import dataclasses

from .._mxnet import autograd, gluon, init, np
from ..augment.batch.mix import MixLoss, mixers
from ..augment.batch.presets import get_batch_preset
from ..augment.presets import eval_transform, get_preset
from ..book.devices import split_batch
from ..data.loaders import ArrayLoader, cifar_loader
from ..models.fastnet import init_whitening
from ..models.layout import fresh_weights
from ..models.precision import compute_in
from ..models.zoo import reset_statistics
from .batch_step import BatchSplit
from .checkpoint import init_trainer
from .distributed import optimizer_rescale, rank_and_size, trainer_kwargs, worker_seed
from . import muon  # noqa: F401  (registers the 'muon' optimizer)
from .ingredients import (FreezeAfter, LabelSmoothingLoss, LRSchedule, TTA, TTALevels,
                          WeightAverage)


def augmentations(config, seed, pending):
    """(train transform, split_f, eval_split_f) of `config`; the test transform is
    always ``eval_transform(config.normalize)`` (``run_test_loader``). `seed`
    seeds the batched draws (``batch_step``); `pending` carries MixUp's and
    CutMix's draws to the loss."""
    if config.aug_backend == 'sample':
        return (get_preset(config.aug, config.normalize), *in_step(config, seed, pending))
    # batch: the loader only converts; each device augments its shard in the step
    return eval_transform(False), *batch_split(config, config.normalize, seed, pending)


def batch_split(config, normalize, seed, pending):
    """(split_f, eval_split_f) with --aug's batched twin (then MixUp/CutMix, if asked)
    in the step, standardizing after it with `normalize`."""
    batch_aug = get_batch_preset(config.aug, normalize)
    batch_aug.hybridize(static_alloc=True, static_shape=True)
    return BatchSplit(batch_aug, seed, mixers(config.mixup, config.cutmix), pending), split_batch


def in_step(config, seed, pending):
    """(split_f, eval_split_f) when nothing but MixUp/CutMix (if asked) runs in the step."""
    mixes = mixers(config.mixup, config.cutmix)
    if not mixes:
        return split_batch, None
    return BatchSplit(None, seed, mixes, pending), split_batch


def shape_net(net, ctxs, workers):
    """Finish the deferred initialization now, while MXNet's generator is as
    seeded (a loader working in this process re-seeds it per example)."""
    if workers == 1:
        net(np.zeros((1, 3, 32, 32), ctx=ctxs[0]))
        fresh_weights(net)   # out of the layout inference left them in (models/layout.py)
        return
    # An inference forward leaves the weights in oneDNN's layout, which MXNet
    # 1.9.1's dist kvstore cannot send ("We can't generate TBlob for MKLDNN
    # data"), and the first broadcast would fail: shape the net in training
    # mode, then reset the statistics that forward moved.
    with autograd.train_mode():
        net(np.zeros((2, 3, 32, 32), ctx=ctxs[0]))
    reset_statistics(net, ctxs)


def loading_of(config):
    """The loader settings of a run: data folder, workers, timeout, seed."""
    return {'root': config.data, 'num_workers': config.num_workers,
            'thread_pool': config.thread_pool, 'timeout': config.loader_timeout,
            'seed': config.seed}


def run_test_loader(config, recipe, **loading):
    """The test loader of the run `config` (settled) and `recipe` describe, in
    order, with its batch size and --limit-test (``train.evaluate`` reads the
    test set with it too). `loading` replaces settings of ``loading_of(config)``
    (the data folder, the workers), none of which changes a batch."""
    loading = dict(loading_of(config), **loading)
    if recipe.loader == 'array':
        return ArrayLoader(False, config.batch_size, loading['root'], seed=loading['seed'],
                           limit=config.limit_test, flip=recipe.flip, translate=recipe.translate)
    return cifar_loader(False, eval_transform(config.normalize), config.batch_size,
                        limit=config.limit_test, **loading)


def loaders(config, recipe, rank, workers, pending):
    """(train loader, test loader, split_f, eval_split_f)."""
    # one plan for every worker (each reads its span of it): the run seed, not the worker's
    shard = (workers, rank) if workers > 1 else None
    seed = worker_seed(config.seed, rank, workers)
    if recipe.loader == 'array':
        batched = config.aug_backend == 'batch'   # with --aug (check_config): raw batches
        per_sample = config.aug is not None and not batched
        return (ArrayLoader(True, config.batch_size, config.data, seed=config.seed,
                            limit=config.limit_train, shard=shard, flip=recipe.flip,
                            translate=recipe.translate, raw=batched,
                            sample_augs=get_preset(config.aug) if per_sample else None),
                run_test_loader(config, recipe),
                *(batch_split(config, True, seed, pending) if batched
                  else in_step(config, seed, pending)))
    train_augs, split_f, eval_split_f = augmentations(config, seed, pending)
    return (cifar_loader(True, train_augs, config.batch_size, limit=config.limit_train,
                         shard=shard, **loading_of(config)),
            run_test_loader(config, recipe), split_f, eval_split_f)


def muon_groups(net, muon, lr, batch_size):
    """Trainer hyperparameters for `muon` (``recipes.MuonGroups``), and each
    parameter's ``lr_mult``/``wd_mult``: the filters at the Trainer's `lr`, no
    decay; the head and biases at airbench94_muon's learning rates, which are per
    summed gradient (x `batch_size` for MXNet's mean one), with its decay."""
    for p in net.collect_params().values():
        if len(p.shape) == 4:
            p.lr_mult, p.wd_mult = 1.0, 0.0
        else:
            group_lr = (muon.head_lr if len(p.shape) == 2 else muon.bias_lr) * batch_size
            p.lr_mult, p.wd_mult = group_lr / lr, muon.decay * batch_size / group_lr
    return {'momentum': muon.momentum, 'muon_momentum': muon.muon_momentum,
            'ns_steps': muon.ns_steps, 'nesterov': muon.nesterov, 'wd': 1.0}


def make_trainer(net, config, recipe, kv):
    hyper = {'learning_rate': config.lr, **optimizer_rescale(kv)}
    if recipe.muon:
        hyper.update(muon_groups(net, recipe.muon, config.lr, config.batch_size))
    if recipe.momentum:
        hyper['momentum'] = recipe.momentum
    if recipe.wd:
        hyper['wd'] = recipe.wd
    if recipe.bias_lr_mult != 1:   # BatchNorm's betas (airbench)
        for name, p in net.collect_params().items():
            if name.endswith('beta'):
                p.lr_mult, p.wd_mult = recipe.bias_lr_mult, 1 / recipe.bias_lr_mult
    return gluon.Trainer(net.collect_params(), config.optimizer, hyper, kvstore=kv,
                         **trainer_kwargs(kv))


@dataclasses.dataclass
class Training:
    """What ``fit`` is given for one run, besides the net and the devices."""
    train_iter: object
    test_iter: object
    loss: object
    trainer: object
    split_f: object
    eval_split_f: object = None   # None: split_f
    eval_net: object = None       # None: the net (else test-time augmentation)
    callbacks: list = dataclasses.field(default_factory=list)   # the recipe's
    stateful: dict = dataclasses.field(default_factory=dict)    # checkpointed parts


def build_training(config, recipe, net, ctxs, kv):
    """Initialize `net` on `ctxs`; build everything else a run of the settled
    `config` and its `recipe` needs."""
    rank, workers = rank_and_size(kv)
    if hasattr(net, 'init_kind'):   # fastnet draws its own weights, as the recipe says
        net.init_kind, net.head_kind = recipe.init, recipe.head
    net.initialize(init=init.Xavier(), ctx=ctxs, force_reinit=True)
    shape_net(net, ctxs, workers)
    pending = []   # MixUp's and CutMix's draws, from the step's split to the loss
    train_iter, test_iter, split_f, eval_split_f = loaders(config, recipe, rank, workers,
                                                           pending)
    if recipe.whitening:
        init_whitening(net, train_iter.data.asnumpy())
    trainer = make_trainer(net, config, recipe, kv)
    if workers > 1:   # every worker takes rank 0's initial weights before its first gradient
        init_trainer(trainer)
    compute_in(net, config.dtype)   # float32: unchanged
    if config.hybridize:   # departure: compiled; the book runs the net imperatively
        net.hybridize(static_alloc=True, static_shape=True)
    loss = LabelSmoothingLoss(recipe.smoothing) if recipe.smoothing \
        else gluon.loss.SoftmaxCrossEntropyLoss()
    if mixers(config.mixup, config.cutmix):
        loss = MixLoss(loss, pending)
    parts = Training(train_iter, test_iter, loss, trainer, split_f, eval_split_f)
    if isinstance(split_f, BatchSplit):   # it learns each step's position
        parts.callbacks.append(split_f)
    if recipe.schedule:
        parts.callbacks.append(LRSchedule(trainer, config.lr, recipe.schedule))
    if recipe.whitening and recipe.whiten_bias_epochs is not None:
        parts.callbacks.append(FreezeAfter(net.whiten.bias, recipe.whiten_bias_epochs))
    if recipe.averaging:
        average = WeightAverage(net, recipe.averaging, recipe.average_every,
                                recipe.average_rho)
        parts.callbacks.append(average)
        parts.stateful['average'] = average
    if recipe.tta:
        parts.eval_net = TTA(net, recipe.tta)
        parts.callbacks.append(TTALevels(parts.eval_net))
    return parts
