"""The base of the per-sample policies: draw the random choices, then apply them.

A policy is a Gluon ``Block`` that works in ``transform_first`` like the
book's augmenters: an HWC uint8 image in, an HWC image out (uint8, or
float32 in [0, 255] for AugMix's mixtures; ``ToTensor`` takes both). Its
``draw()`` makes every random choice for one image, from NumPy's global
generator (which ``seed_everything`` seeds and every DataLoader worker
reseeds), and its ``augment(img, drawn)`` is deterministic, so the tests can
count the draws and force the parameters.
"""
from dataclasses import dataclass

import numpy as onp

from ..._mxnet import nn, np
from .ops import GEOMETRIC, NEAREST, apply_op

# CIFAR-10's mean pixel (presets.CIFAR10_MEAN x 255, rounded): what the AutoAugment
# code fills with (it marks empty pixels transparent and sets them to 0 after
# standardizing, i.e. to the mean)
CIFAR10_MEAN_PIXEL = (125, 123, 114)


@dataclass(frozen=True)
class Levels:
    """How a policy's integer or continuous level 0..`top` maps to each op's value,
    as the papers' code does it (the TrivialAugment code's ``MinMaxVals`` form):
    shear, translate, rotate and Cutout grow linearly to their maximum at `top`
    (translate, rotate and Cutout truncated to integers), the colour factors are
    `enhance[0]` + level x `enhance[1]` / `top` (low and span, as the code writes
    them: 0.1 + 1.8 x 5 / 10 is exactly 1.0), posterize's bits from `bits[0]` down to
    `bits[1]` and solarize's threshold from 256 down to 0 (both truncated)."""
    top: float
    shear: float
    translate: float
    rotate: float
    enhance: tuple
    bits: tuple
    cutout: int = 0

    def value(self, op, level, trunc=int):
        """The value of `op` at `level`, before any sign (None: the op has none).
        `trunc` truncates to an integer: ``int`` on a number, a floor on the
        batched twins' level tensors (levels are never negative)."""
        if level is None:
            return None
        if op in ('ShearX', 'ShearY'):
            return level * self.shear / self.top
        if op in ('TranslateX', 'TranslateY'):
            return trunc(level * self.translate / self.top)
        if op == 'Rotate':
            return trunc(level * self.rotate / self.top)
        if op in ('Color', 'Contrast', 'Brightness', 'Sharpness'):
            return level * self.enhance[1] / self.top + self.enhance[0]
        if op == 'Posterize':
            return self.bits[0] - trunc(level * (self.bits[0] - self.bits[1]) / self.top)
        if op == 'Solarize':
            return 256 - trunc(level * 256 / self.top)
        if op == 'Cutout':
            return trunc(level * self.cutout / self.top)
        return None   # Identity, AutoContrast, Equalize, Invert


def signed(op, value, rng=onp.random):
    """`value` of `op`, with a random sign (p = 0.5 each) for the geometric ops, as the
    papers' code draws it; the other ops' values are unsigned."""
    if op not in GEOMETRIC:
        return value
    return -value if rng.random_sample() < 0.5 else value


class ImagePolicy(nn.Block):
    """Base: ``forward(x) = augment(x, draw())`` on the image as a NumPy array."""

    fill, resample = 0, NEAREST   # each policy sets its paper's

    def draw(self):
        raise NotImplementedError

    def augment(self, img, drawn):
        raise NotImplementedError

    def apply(self, img, ops):
        """Apply [(op name, value)] in order, with this policy's fill and resampling."""
        for name, value in ops:
            img = apply_op(name, img, value, self.fill, self.resample)
        return img

    def forward(self, x):
        if x.ndim != 3 or x.dtype != onp.uint8:
            raise ValueError(f"{type(self).__name__} expects an HWC uint8 image, got shape "
                             f"{x.shape} and dtype {x.dtype}")
        out = self.augment(x.asnumpy(), self.draw())
        return np.array(out, dtype=out.dtype)
