"""RandAugment (Cubuk et al. 2020, "RandAugment: Practical automated data
augmentation with a reduced search space", CVPR Workshops).

Per image, `num_ops` (N) ops are drawn uniformly, with replacement, from
the paper's 14 (Identity, AutoContrast, Equalize, Rotate, Solarize, Color,
Posterize, Contrast, Brightness, Sharpness, ShearX, ShearY, TranslateX,
TranslateY), and each is applied, always, at the one magnitude M (0-10).
M maps to values as in AutoAugment's CIFAR code (``autoaugment.level_value``:
the geometric ops with a random sign; at M = 5 the colour factors are
0.1 + 0.18 M = 1.0, as in the authors' TPU code), with nearest resampling
and CIFAR-10's mean pixel as fill. The defaults N = 3, M = 5 are the
paper's CIFAR-10 setting for Wide-ResNet-28-10 as the public ports of its
appendix give it (not checked against the paper's text here).
"""
import numpy as onp

from .autoaugment import MAX_LEVEL, drawn_value
from .base import CIFAR10_MEAN_PIXEL, ImagePolicy

OPS = ('Identity', 'AutoContrast', 'Equalize', 'Rotate', 'Solarize', 'Color', 'Posterize',
       'Contrast', 'Brightness', 'Sharpness', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY')


class RandAugment(ImagePolicy):
    """N uniformly drawn ops at magnitude M (module docstring)."""

    fill = CIFAR10_MEAN_PIXEL

    def __init__(self, num_ops=3, magnitude=5):
        super().__init__()
        if not isinstance(num_ops, int) or num_ops < 0:
            raise ValueError(f"RandAugment: num_ops must be an integer >= 0, got {num_ops!r}")
        if not 0 <= magnitude <= MAX_LEVEL:
            raise ValueError(f"RandAugment: magnitude must be in [0, {MAX_LEVEL}], "
                             f"got {magnitude!r}")
        self.num_ops, self.magnitude = num_ops, magnitude

    def draw(self, rng=onp.random):
        """[(op, value)] in the order they apply."""
        ops = []
        for _ in range(self.num_ops):
            op = OPS[rng.randint(len(OPS))]
            ops.append((op, drawn_value(op, self.magnitude, rng)))
        return ops

    def augment(self, img, drawn):
        return self.apply(img, drawn)

    def __repr__(self):
        return f'{type(self).__name__}(num_ops={self.num_ops}, magnitude={self.magnitude})'
