"""Where a training step's seconds go: the split (and the augmentation that runs in
it with ``--aug-backend batch``), the forward and backward passes, the optimizer.

MXNet queues operators and runs them asynchronously, so the parts of a step can
only be timed apart by waiting at their boundaries: for the split's shards after
the split, for the gradients before ``trainer.step`` (the backward pass done) and
for the weights after it (the update done). Each wait gives up the overlap of
Python's dispatch with the engine's work at that point, a few milliseconds a step
(the Muon update's few hundred operators); the waits are for those arrays only,
so a loader's prefetching beside the step is neither waited for nor counted.
"""
import time


class StepClock:
    """A ``split_f`` and a trainer to hand ``train_batch_ch13`` in place of the run's
    own, which add up the seconds of the split and of ``trainer.step``; ``take()``
    returns them (``{'split', 'optimizer'}``) and starts again from zero."""

    def __init__(self, split_f, trainer):
        self._split_f, self.trainer = split_f, TimedTrainer(trainer, self)
        self.seconds = {'split': 0.0, 'optimizer': 0.0}

    def split_f(self, X, y, devices):
        start = time.perf_counter()
        X_shards, y_shards = self._split_f(X, y, devices)
        for x in X_shards:
            x.wait_to_read()
        self.seconds['split'] += time.perf_counter() - start
        return X_shards, y_shards

    def take(self):
        seconds, self.seconds = self.seconds, dict.fromkeys(self.seconds, 0.0)
        return seconds


class TimedTrainer:
    """`trainer` with its ``step`` timed from the gradients' readiness to the weights'
    (gradient exchange included: a kvstore's push and pull run inside ``step``);
    every other attribute is the trainer's own."""

    def __init__(self, trainer, clock):
        self._trainer, self._clock = trainer, clock

    def _arrays(self, kind):
        # the Trainer's parameters (Gluon keeps them in `_params`), those that train
        return [a for p in self._trainer._params if p.grad_req != 'null'
                for a in (p.list_grad() if kind == 'grad' else p.list_data())]

    def step(self, *args, **kwargs):
        for g in self._arrays('grad'):
            g.wait_to_read()
        start = time.perf_counter()
        self._trainer.step(*args, **kwargs)
        for w in self._arrays('data'):
            w.wait_to_read()
        self._clock.seconds['optimizer'] += time.perf_counter() - start

    def __getattr__(self, name):
        return getattr(self._trainer, name)
