"""AugMix (Hendrycks et al. 2020, "AugMix: A Simple Data Processing Method to
Improve Robustness and Uncertainty", ICLR), without its Jensen-Shannon loss.

Per image: `width` chains, each of `depth` ops (-1: 1 to 3, drawn per
chain) drawn uniformly, with replacement, from the paper's nine
(AutoContrast, Equalize, Posterize, Rotate, Solarize, ShearX, ShearY,
TranslateX, TranslateY: no colour ops, which overlap ImageNet-C), each at a
level drawn uniformly from [0.1, severity). The chains are mixed with
Dirichlet(alpha, ..., alpha) weights, and the mixture with the original by
m ~ Beta(alpha, alpha): (1 - m) original + m mixture, in float, not rounded
back to uint8. Levels map to values as the authors' code does
(google-research/augmix, augmentations.py): rotate int(3 l) degrees, shear
0.03 l, translate int(l 32 / 30) pixels (these with a random sign),
posterize 4 - int(0.4 l) bits, solarize threshold 256 - int(25.6 l); PIL's
bilinear resampling, black fill. The output is float32 HWC in [0, 255],
which ``ToTensor`` scales as it does uint8. As in the authors' CIFAR code,
``--aug augmix`` flips and pads-and-crops first, then mixes.
"""
import numpy as onp

from .base import ImagePolicy, Levels, signed
from .ops import BILINEAR

OPS = ('AutoContrast', 'Equalize', 'Posterize', 'Rotate', 'Solarize', 'ShearX', 'ShearY',
       'TranslateX', 'TranslateY')


# the AugMix code's augmentations.py (levels up to 10, IMAGE_SIZE 32)
LEVELS = Levels(top=10, shear=0.3, translate=32 / 3, rotate=30, enhance=(0.1, 1.8), bits=(4, 0))


def level_value(op, level):
    """The AugMix code's value of `op` at a (continuous) `level`, before any sign."""
    return LEVELS.value(op, level)


class AugMix(ImagePolicy):
    """Mix `width` random op chains with the original (module docstring)."""

    resample = BILINEAR

    def __init__(self, severity=3, width=3, depth=-1, alpha=1.0):
        super().__init__()
        if not 0.1 < severity <= 10:
            raise ValueError(f"AugMix: severity must be in (0.1, 10], got {severity!r}")
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"AugMix: width must be an integer >= 1, got {width!r}")
        if not isinstance(depth, int) or depth == 0 or depth < -1:
            raise ValueError(f"AugMix: depth must be -1 (1 to 3) or an integer >= 1, "
                             f"got {depth!r}")
        if not alpha > 0:
            raise ValueError(f"AugMix: alpha must be > 0, got {alpha!r}")
        self.severity, self.width, self.depth, self.alpha = severity, width, depth, alpha

    def draw(self, rng=onp.random):
        """(chain weights (width,), m, [[(op, value)] per chain])."""
        weights = rng.dirichlet([self.alpha] * self.width).astype(onp.float32)
        m = onp.float32(rng.beta(self.alpha, self.alpha))
        chains = []
        for _ in range(self.width):
            depth = self.depth if self.depth > 0 else rng.randint(1, 4)
            chain = []
            for _ in range(depth):
                op = OPS[rng.randint(len(OPS))]
                value = level_value(op, rng.uniform(0.1, self.severity))
                chain.append((op, signed(op, value, rng)))
            chains.append(chain)
        return weights, m, chains

    def augment(self, img, drawn):
        weights, m, chains = drawn
        mix = sum(w * self.apply(img, chain).astype(onp.float32)
                  for w, chain in zip(weights, chains))
        return ((1 - m) * img.astype(onp.float32) + m * mix).astype(onp.float32)

    def __repr__(self):
        return (f'{type(self).__name__}(severity={self.severity}, width={self.width}, '
                f'depth={self.depth}, alpha={self.alpha})')
