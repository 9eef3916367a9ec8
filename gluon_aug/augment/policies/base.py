"""The base of the per-sample policies: draw the random choices, then apply them.

A policy is a Gluon ``Block`` that works in ``transform_first`` like the
book's augmenters: an HWC uint8 image in, an HWC image out (uint8, or
float32 in [0, 255] for AugMix's mixtures; ``ToTensor`` takes both). Its
``draw()`` makes every random choice for one image, from NumPy's global
generator (which ``seed_everything`` seeds and every DataLoader worker
reseeds), and its ``augment(img, drawn)`` is deterministic, so the tests can
count the draws and force the parameters.
"""
import numpy as onp

from ..._mxnet import nn, np
from .ops import NEAREST, apply_op

# CIFAR-10's mean pixel (presets.CIFAR10_MEAN x 255, rounded): what the AutoAugment
# code fills with (it marks empty pixels transparent and sets them to 0 after
# standardizing, i.e. to the mean)
CIFAR10_MEAN_PIXEL = (125, 123, 114)


def signed(value, rng=onp.random):
    """`value` with a random sign (p = 0.5 each), as the papers' code draws it."""
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
