"""``--aug-backend batch`` inside the training step: split, then augment each shard
on its device, with draws that depend only on (seed, epoch, step, device).

The batched blocks draw from MXNet's generator, which the per-sample loader
(in this process with ``-j 0``, elsewhere with workers) also seeds and draws
from. So before each shard is augmented, the generator of its device is
seeded from (run seed, epoch, step, shard): the draws are the same whatever
loaded the batch (``-j 0``, worker processes, ``--thread-pool``) and after a
resume, which restores the position.
"""
import numpy as onp

from .._mxnet import mx
from ..book.devices import split_batch
from .loop import Callback


def step_seed(seed, epoch, step, shard):
    """The generator seed of one shard of one step (a 32-bit integer)."""
    return int(onp.random.SeedSequence([seed, epoch, step, shard]).generate_state(1)[0])


class BatchSplit(Callback):
    """A ``split_f(X, y, devices)``: ``split_batch``, then `aug` (None: none) on each
    shard on its device, then one of `mixes` (MixUp, CutMix: ``augment.batch.mix``),
    whose draw it appends to `pending` for the ``MixLoss``. With `seed`, a callback
    of ``fit`` too: it learns each step's (epoch, step) and seeds every shard's
    draws from them (``step_seed``). For training only: evaluate with
    ``split_batch`` (``fit(..., eval_split_f=split_batch)``)."""

    def __init__(self, aug, seed=None, mixes=(), pending=None):
        self.aug, self.seed, self.position = aug, seed, (0, 0)
        self.mixes, self.pending = list(mixes), pending

    def on_batch_start(self, epoch, batch):
        self.position = (epoch, batch)

    def __call__(self, X, y, devices):
        X_shards, y_shards = split_batch(X, y, devices)
        if self.pending is not None:
            self.pending.clear()   # this step's draws only, whatever an earlier step left
        out = []
        for k, (x, device) in enumerate(zip(X_shards, devices)):
            seed = None if self.seed is None else step_seed(self.seed, *self.position, k)
            if seed is not None:
                mx.random.seed(seed, ctx=device)
            x = x if self.aug is None else self.aug(x)
            if self.mixes:
                x = self.mix(x, onp.random if seed is None else onp.random.RandomState(seed))
            out.append(x)
        return out, y_shards

    def mix(self, x, rng):
        mixer = self.mixes[rng.randint(len(self.mixes))] if len(self.mixes) > 1 \
            else self.mixes[0]
        drawn = mixer.draw(x.shape[0], x.shape[2], x.shape[3], rng)
        self.pending.append(drawn)
        return mixer.apply(x, drawn)
