"""AutoAugment's CIFAR-10 policy (Cubuk et al. 2019, "AutoAugment: Learning
Augmentation Policies from Data", CVPR; appendix table of the 25 sub-policies).

Per image, one of the 25 sub-policies is drawn uniformly; each of its two
ops then applies with its probability, at its level L (0-10). The levels
map to values as the authors' CIFAR code does (tensorflow/models,
research/autoaugment/augmentation_transforms.py): shear 0.03 L, translate
int(L) pixels, rotate int(3 L) degrees (these three with a random sign),
colour/contrast/brightness/sharpness factor 0.1 + 0.18 L (no sign),
posterize 4 - int(0.4 L) bits, solarize threshold 256 - int(25.6 L). PIL's
nearest resampling, empty pixels filled with CIFAR-10's mean pixel (the
code's transparent-then-mean trick).

The table is the one torchvision and other ports carry (row 14: Color 0.2 at
level 8, as the authors' code has it; one port has 6). The authors' training
code drew from a longer list of 95 sub-policies; the paper publishes these 25.
Their pipeline then pads and crops, flips, and always applies a 16x16
Cutout; ``--aug autoaugment`` adds the pad-crop and flip only (docs/AUGMENTATION.md).
"""
import numpy as onp

from .base import CIFAR10_MEAN_PIXEL, ImagePolicy, Levels, signed

# (op, probability, level) pairs; level None for the ops without a magnitude
CIFAR10_POLICY = [
    (('Invert', 0.1, None), ('Contrast', 0.2, 6)),
    (('Rotate', 0.7, 2), ('TranslateX', 0.3, 9)),
    (('Sharpness', 0.8, 1), ('Sharpness', 0.9, 3)),
    (('ShearY', 0.5, 8), ('TranslateY', 0.7, 9)),
    (('AutoContrast', 0.5, None), ('Equalize', 0.9, None)),
    (('ShearY', 0.2, 7), ('Posterize', 0.3, 7)),
    (('Color', 0.4, 3), ('Brightness', 0.6, 7)),
    (('Sharpness', 0.3, 9), ('Brightness', 0.7, 9)),
    (('Equalize', 0.6, None), ('Equalize', 0.5, None)),
    (('Contrast', 0.6, 7), ('Sharpness', 0.6, 5)),
    (('Color', 0.7, 7), ('TranslateX', 0.5, 8)),
    (('Equalize', 0.3, None), ('AutoContrast', 0.4, None)),
    (('TranslateY', 0.4, 3), ('Sharpness', 0.2, 6)),
    (('Brightness', 0.9, 6), ('Color', 0.2, 8)),
    (('Solarize', 0.5, 2), ('Invert', 0.0, None)),
    (('Equalize', 0.2, None), ('AutoContrast', 0.6, None)),
    (('Equalize', 0.2, None), ('Equalize', 0.6, None)),
    (('Color', 0.9, 9), ('Equalize', 0.6, None)),
    (('AutoContrast', 0.8, None), ('Solarize', 0.2, 8)),
    (('Brightness', 0.1, 3), ('Color', 0.7, 0)),
    (('Solarize', 0.4, 5), ('AutoContrast', 0.9, None)),
    (('TranslateY', 0.9, 9), ('TranslateY', 0.7, 9)),
    (('AutoContrast', 0.9, None), ('Solarize', 0.8, 3)),
    (('Equalize', 0.8, None), ('Invert', 0.1, None)),
    (('TranslateY', 0.7, 9), ('AutoContrast', 0.9, None)),
]

MAX_LEVEL = 10


# the AutoAugment code's augmentation_transforms.py (PARAMETER_MAX = 10)
LEVELS = Levels(top=MAX_LEVEL, shear=0.3, translate=10, rotate=30, enhance=(0.1, 1.8),
                bits=(4, 0), cutout=20)


def level_value(op, level):
    """The AutoAugment code's value of `op` at `level` (0-10), before any sign."""
    return LEVELS.value(op, level)


def drawn_value(op, level, rng):
    """``level_value`` with the code's random sign for the geometric ops."""
    return signed(op, level_value(op, level), rng)


class AutoAugment(ImagePolicy):
    """AutoAugment's CIFAR-10 policy (module docstring): one of 25 sub-policies per image."""

    fill = CIFAR10_MEAN_PIXEL

    def __init__(self, policy=CIFAR10_POLICY):
        super().__init__()
        self.policy = policy

    def draw(self, rng=onp.random):
        """(sub-policy index, [(op, value)] of the ops that fire, in order)."""
        k = rng.randint(len(self.policy))
        ops = []
        for op, p, level in self.policy[k]:
            if rng.random_sample() < p:
                ops.append((op, drawn_value(op, level, rng)))
        return k, ops

    def augment(self, img, drawn):
        return self.apply(img, drawn[1])

    def __repr__(self):
        return f'{type(self).__name__}(CIFAR-10, {len(self.policy)} sub-policies)'
