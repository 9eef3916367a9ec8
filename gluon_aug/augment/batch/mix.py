"""MixUp and CutMix: batch-level augmentations that mix each image with a partner's.

MixUp (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization",
ICLR; the authors' CIFAR code, facebookresearch/mixup-cifar10): lambda ~
Beta(alpha, alpha), partners by a random permutation of the batch, images
lambda x + (1 - lambda) x[perm]. CutMix (Yun et al. 2019, ICCV; the
authors' code, clovaai/CutMix-PyTorch): lambda ~ Beta(alpha, alpha), a box
of sides int(W sqrt(1 - lambda)) and int(H sqrt(1 - lambda)) about a
uniformly random centre, clipped to the image, filled from the partner; then
lambda is set to the share of the image left outside the box. The label of
each mixed image is lambda on its own class and 1 - lambda on its partner's.

One draw per batch (lambda, the permutation, the box) on the host, from the
generator it is given; the mixing itself runs on the batch's device.
``draw`` and ``apply`` are separate so tests can force the parameters.
"""
import math
from dataclasses import dataclass

import numpy as onp

from ..._mxnet import np


@dataclass
class Mix:
    """One batch's draw: partner of each example, the weight of the example's own
    label, and (CutMix) the box (top, left, height, width) taken from the partner."""
    perm: onp.ndarray
    lam: float
    box: tuple = None


def soft_labels(labels, mix, num_classes):
    """(N, num_classes) label weights of the mixed batch: lam on each example's
    class, 1 - lam on its partner's (summing to 1 per row)."""
    y = onp.asarray(labels).astype(int)
    out = onp.zeros((len(y), num_classes))
    out[onp.arange(len(y)), y] += mix.lam
    out[onp.arange(len(y)), y[mix.perm]] += 1 - mix.lam
    return out


class BetaMix:
    """Base of the mixers: lambda ~ Beta(alpha, alpha)."""

    name = None

    def __init__(self, alpha=1.0):
        if not alpha > 0:
            raise ValueError(f"{type(self).__name__}: alpha must be > 0, got {alpha!r}")
        self.alpha = alpha

    def __repr__(self):
        return f'{type(self).__name__}(alpha={self.alpha})'


class BatchMixUp(BetaMix):
    """MixUp with lambda ~ Beta(alpha, alpha) (module docstring)."""

    name = 'mixup'

    def draw(self, n, h, w, rng):
        return Mix(rng.permutation(n), float(rng.beta(self.alpha, self.alpha)))

    def apply(self, x, mix):
        partner = x[np.array(mix.perm, ctx=x.ctx, dtype='int32')]
        return mix.lam * x + (1 - mix.lam) * partner


class BatchCutMix(BetaMix):
    """CutMix with lambda ~ Beta(alpha, alpha), then set to the box's share (module docstring)."""

    name = 'cutmix'

    def draw(self, n, h, w, rng):
        lam = rng.beta(self.alpha, self.alpha)
        cut = math.sqrt(1 - lam)
        cut_h, cut_w = int(h * cut), int(w * cut)
        cy, cx = rng.randint(h), rng.randint(w)
        top, bottom = onp.clip([cy - cut_h // 2, cy + cut_h // 2], 0, h)
        left, right = onp.clip([cx - cut_w // 2, cx + cut_w // 2], 0, w)
        box = (int(top), int(left), int(bottom - top), int(right - left))
        return Mix(rng.permutation(n), 1 - box[2] * box[3] / (h * w), box)

    def apply(self, x, mix):
        top, left, bh, bw = mix.box
        if bh == 0 or bw == 0:
            return x
        partner = x[np.array(mix.perm, ctx=x.ctx, dtype='int32')]
        out = x.copy()
        out[:, :, top:top + bh, left:left + bw] = partner[:, :, top:top + bh, left:left + bw]
        return out


class MixLoss:
    """The loss of a mixed batch: lam * loss(pred, own label) + (1 - lam) *
    loss(pred, partner's label), for any `base` loss of integer labels (so label
    smoothing composes with it). The step that mixed the batch leaves each shard's
    ``Mix`` in `pending` (a list shared with it), in the order the book's
    ``train_batch_ch13`` calls the loss on the shards; this takes them in turn.
    The labels the step sees stay each example's own, so its train accuracy counts
    the own label."""

    def __init__(self, base, pending):
        self.base, self.pending = base, pending

    def __call__(self, pred, label):
        if not self.pending:
            raise RuntimeError("MixLoss was called on a batch that was not mixed")
        mix = self.pending.pop(0)
        if len(mix.perm) != label.shape[0]:
            raise RuntimeError(f"MixLoss: a draw for {len(mix.perm)} examples met a shard of "
                               f"{label.shape[0]}: the split and the loss are out of step")
        partner = label[np.array(mix.perm, ctx=label.ctx, dtype='int32')]
        return mix.lam * self.base(pred, label) + (1 - mix.lam) * self.base(pred, partner)


def mixers(mixup=0.0, cutmix=0.0):
    """The batch mixers `--mixup A` and `--cutmix A` ask for (0: off); with both,
    each batch takes one of them at random, as torchvision's reference does."""
    return ([BatchMixUp(mixup)] if mixup else []) + ([BatchCutMix(cutmix)] if cutmix else [])
