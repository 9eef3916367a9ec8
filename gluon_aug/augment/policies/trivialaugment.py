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

from .base import ImagePolicy, signed
from .randaugment import OPS

STRENGTHS = 31
SIGNED = ('ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate')


def wide_value(op, level):
    """The authors' wide-range value of `op` at strength `level` (0-30), before any sign."""
    top = STRENGTHS - 1
    if op in ('ShearX', 'ShearY'):
        return level * 0.99 / top
    if op in ('TranslateX', 'TranslateY'):
        return int(level * 32 / top)
    if op == 'Rotate':
        return int(level * 135 / top)
    if op in ('Color', 'Contrast', 'Brightness', 'Sharpness'):
        return level * (2.0 - 0.01) / top + 0.01
    if op == 'Posterize':
        return 8 - int(level * (8 - 2) / top)
    if op == 'Solarize':
        return 256 - int(level * 256 / top)
    return None   # Identity, AutoContrast, Equalize


class TrivialAugmentWide(ImagePolicy):
    """One uniformly drawn op at a uniformly drawn strength (module docstring)."""

    def draw(self, rng=onp.random):
        """(op, strength, value)."""
        op, level = OPS[rng.randint(len(OPS))], rng.randint(STRENGTHS)
        value = wide_value(op, level)
        return op, level, signed(value, rng) if op in SIGNED else value

    def augment(self, img, drawn):
        return self.apply(img, [(drawn[0], drawn[2])])

    def __repr__(self):
        return f'{type(self).__name__}()'
