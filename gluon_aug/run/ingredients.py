"""The fast recipe's training ingredients, each one small piece (``run/recipes.py``).

- ``LabelSmoothingLoss``: cross-entropy against (1 - eps) one-hot + eps / K,
  per example (as ``SoftmaxCrossEntropyLoss``, so the book's step sums it);
- ``lr_at`` and ``LRSchedule``: linear warm-up, then linear decay, per step;
- ``WeightAverage``: an exponential average of every parameter (BatchNorm's
  statistics included), used for evaluation (``ema``) or, as airbench's
  lookahead, the weights reset onto it after every update;
- ``FreezeAfter``: a parameter trained for the first epochs, then frozen
  (fast94's whitening bias, as airbench94's);
- ``TTA``: the net seen through test-time augmentation, the mean of the
  logits of the image, its mirror and (level 2) its 1-pixel shifts.

Callbacks plug into ``loop.fit``; those with state give it to the checkpoint
(``state_dict``/``load_state_dict``) so a resumed run stays bitwise identical.
"""
from .._mxnet import gluon, mx, nn
from ..augment.batch.blocks import BatchPadCrop
from ..augment.batch.geometry import remap
from .loop import Callback


class LabelSmoothingLoss(gluon.loss.Loss):
    """Per-example (1 - eps) * NLL(y) + eps * mean over classes of -log p."""

    def __init__(self, eps, **kwargs):
        super().__init__(weight=None, batch_axis=0, **kwargs)
        self.eps = eps

    def hybrid_forward(self, F, pred, label):
        logp = F.npx.log_softmax(pred, axis=-1)
        nll = -F.npx.pick(logp, label, axis=-1)
        return (1 - self.eps) * nll - self.eps * F.np.mean(logp, axis=-1)


def lr_at(lr, schedule, step, total):
    """The learning rate at `step` of `total`: `schedule` = (warm-up fraction,
    start factor, end factor): linear from start x lr to lr over the warm-up,
    then linear to end x lr at the last step; None: constant."""
    if schedule is None:
        return lr
    warmup, start, end = schedule
    t = step / total
    if t < warmup:
        return lr * (start + (1 - start) * t / warmup)
    return lr * (1 + (end - 1) * (t - warmup) / (1 - warmup))


class LRSchedule(Callback):
    """Sets the Trainer's learning rate before every step (``lr_at``)."""

    def __init__(self, trainer, lr, schedule):
        self.trainer, self.lr, self.schedule = trainer, lr, schedule

    def on_fit_start(self, num_epochs, num_batches, start):
        self.num_batches, self.total = num_batches, num_epochs * num_batches

    def on_batch_start(self, epoch, batch):
        step = epoch * self.num_batches + batch
        self.trainer.set_learning_rate(lr_at(self.lr, self.schedule, step, self.total))


class WeightAverage(Callback):
    """An average of every parameter on every device, updated every `every` steps.

    ``ema``: avg = d avg + (1 - d) w with d = rho^every (warmed up as
    (1 + step) / (10 + step) early on); evaluation swaps it in and back out,
    and after the last epoch it stays. ``lookahead`` (airbench): d = rho^every
    x progress^3, and the weights are reset onto the average after each
    update, so training itself continues from it.
    """

    def __init__(self, net, mode, every, rho):
        self.mode, self.every, self.rho = mode, every, rho
        self.net = net   # its arrays are read at each use: ``fresh_weights`` replaces them
        self.average = [d.copy() for d in self.params]
        self.saved = None

    @property
    def params(self):
        return [d for p in self.net.collect_params().values() for d in p.list_data()]

    def on_fit_start(self, num_epochs, num_batches, start):
        self.num_epochs, self.num_batches = num_epochs, num_batches
        self.total = num_epochs * num_batches

    def on_batch_end(self, epoch, batch, sums):
        step = epoch * self.num_batches + batch
        if step % self.every:
            return
        if self.mode == 'lookahead':
            decay = self.rho ** self.every * (step / self.total) ** 3
        else:
            decay = min(self.rho ** self.every, (1 + step) / (10 + step))
        for avg, w in zip(self.average, self.params):
            avg[:] = decay * avg + (1 - decay) * w
            if self.mode == 'lookahead':
                w[:] = avg

    def on_evaluate_start(self, epoch):
        if epoch < self.num_epochs - 1:   # in between: evaluate the average, then go on
            self.saved = [w.copy() for w in self.params]
        for avg, w in zip(self.average, self.params):
            w[:] = avg

    def on_evaluate_end(self, epoch):
        if self.saved is not None:
            for saved, w in zip(self.saved, self.params):
                w[:] = saved
            self.saved = None

    def state_dict(self):
        return {}, {str(i): avg.asnumpy() for i, avg in enumerate(self.average)}

    def load_state_dict(self, meta, arrays):
        for i, avg in enumerate(self.average):
            mx.np.array(arrays[str(i)], dtype=avg.dtype).copyto(avg)


class FreezeAfter(Callback):
    """`param` trains for the first `epochs` epochs, then stays exactly as it is:
    from epoch `epochs` on it takes no gradient (``grad_req = 'null'``, airbench's
    ``requires_grad = False``), so the Trainer skips it. A learning-rate multiplier
    of 0 would not do: MXNet's momentum updates keep moving a weight by the
    momentum they hold. Set before every step from the step's own epoch, so a
    resumed run needs no state from the checkpoint."""

    def __init__(self, param, epochs):
        self.param, self.epochs, self.grad_req = param, epochs, param.grad_req

    def on_batch_start(self, epoch, batch):
        self.param.grad_req = 'null' if epoch >= self.epochs else self.grad_req


class TTA(nn.Block):
    """`net` seen through test-time augmentation: the mean logits of the views.

    Level 1: the image and its mirror. Level 2: half of that, plus a quarter
    each of the mirror pair shifted 1 px up-left and 1 px down-right (reflected
    borders): 6 forward passes instead of 1 (``TTALevels`` keeps the epochs
    before the last at mirror level).
    """

    def __init__(self, net, level, **kwargs):
        super().__init__(**kwargs)
        self.net, self.level, self.full = net, level, level
        self.shift = BatchPadCrop(1, reflect=True)

    def mirrored(self, x):
        return 0.5 * (self.net(x) + self.net(x[:, :, :, ::-1]))

    def forward(self, x):
        if self.level == 0:
            return self.net(x)
        logits = self.mirrored(x)
        if self.level >= 2:
            z = mx.np.zeros((x.shape[0], 1, 1, 1), ctx=x.ctx)
            views = [remap(mx.nd, x, [(self.shift, (z + offset, z + offset))])
                     for offset in (0, 2)]   # read x[i - 1, j - 1] and x[i + 1, j + 1]
            logits = 0.5 * logits + 0.25 * sum(self.mirrored(v) for v in views)
        return logits


class TTALevels(Callback):
    """Mirror-only test-time augmentation in the epochs before the last, the
    recipe's full level at the last (the evaluations in between are cheaper)."""

    def __init__(self, tta):
        self.tta = tta

    def on_fit_start(self, num_epochs, num_batches, start):
        self.num_epochs = num_epochs

    def on_evaluate_start(self, epoch):
        self.tta.level = self.tta.full if epoch == self.num_epochs - 1 else min(self.tta.full, 1)
