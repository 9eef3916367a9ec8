"""TrivialAugmentWide (Müller & Hutter 2021, "TrivialAugment: Tuning-free
Yet State-of-the-Art Data Augmentation", ICCV).

Per image, one op is drawn uniformly from 14 (those of RandAugment) and one
strength uniformly from 0..30, and the op is applied at it. The wide ranges
and their mapping are the authors' code's (automl/trivialaugment,
aug_lib.py, 'wide_standard' with 31 strengths; L = 0..30): shear
0.99 L / 30, translate int(32 L / 30) pixels, rotate int(135 L / 30)
degrees (these three with a random sign), colour/contrast/brightness/
sharpness factor 0.01 + 1.99 L / 30 (no sign), posterize 8 - int(6 L / 30)
bits, solarize threshold 256 - int(256 L / 30). PIL's nearest resampling
and black fill, as the authors' code leaves them. (torchvision's
``TrivialAugmentWide`` differs in the colour factors, 1 +- 0.99 L / 30 with a
random sign, and in rounding.) Their CIFAR pipeline then pads and crops,
flips and applies a 16x16 Cutout; ``--aug trivialaugment`` adds the
pad-crop and flip only.
"""
import numpy as onp

from .base import ImagePolicy, Levels, signed
from .randaugment import OPS

STRENGTHS = 31


# the authors' 'wide' MinMaxVals over strengths 0..30
WIDE = Levels(top=STRENGTHS - 1, shear=0.99, translate=32, rotate=135, enhance=(0.01, 2.0 - 0.01),
              bits=(8, 2))


def wide_value(op, level):
    """The authors' wide-range value of `op` at strength `level` (0-30), before any sign."""
    return WIDE.value(op, level)


class TrivialAugmentWide(ImagePolicy):
    """One uniformly drawn op at a uniformly drawn strength (module docstring)."""

    def draw(self, rng=onp.random):
        """(op, strength, value)."""
        op, level = OPS[rng.randint(len(OPS))], rng.randint(STRENGTHS)
        value = wide_value(op, level)
        return op, level, signed(op, value, rng)

    def augment(self, img, drawn):
        return self.apply(img, [(drawn[0], drawn[2])])

    def __repr__(self):
        return f'{type(self).__name__}()'
