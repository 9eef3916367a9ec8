"""Per-sample transforms that MXNet 1.9's ``gluon.data.vision.transforms`` lacks or gets wrong.

They draw their random parameters from NumPy's global generator, which
``seed_everything`` seeds (Gluon's own random transforms draw from MXNet's).

``RandomPadCrop`` (input HWC image, any dtype; output same shape and dtype):
zero-pad `pad` pixels on every side and crop back at a uniformly random
offset, i.e. translate by up to `pad` pixels: the CIFAR standard
(He et al. 2016, sec. 4.2), missing from MXNet 1.9 (GluonCV's ``RandomCrop``
pads through NumPy per image).

``RandomColorJitter`` (input HWC uint8 image; output same): Gluon's, minus its
crash. MXNet 1.x's fused colour jitter shifts the hue by U(-hue, hue); a pixel
whose shifted hue lands just below 0 makes its C++ ``HLS2RGBConvert`` index
row 6 of a 6-row table and the process dies with SIGSEGV (apache/mxnet#18986,
fixed only on master by #19516): about once per 1,500 random 224x224 images
and once per ~35,000 CIFAR images. In a DataLoader worker the batch is lost
and the loader waits for its timeout. This class draws what the fused op
draws (a uniformly random order of the four adjustments, each factor
1 + U(-x, x), the hue's U(-hue, hue) turns), from NumPy's generator, and
applies each adjustment with MXNet's own single-adjustment op at that factor:
exactly what the fused op computes for that order and those factors, except
that a negative hue shift a is applied as 1 + a turns (``RandomHue``'s form,
never negative): the same rotation, up to float rounding in the HLS
conversion (``scripts/repro_jitter_hang.py``).

``RandomErasing`` (input CHW float tensor, after ToTensor; output same):
with probability `p`, set one rectangle to `value`; its area is uniform in
`scale` (fraction of the image) and its aspect ratio log-uniform in `ratio`
(Zhong et al. 2020, "Random Erasing Data Augmentation", Alg. 1).
"""
import math

import numpy as onp
from mxnet.util import is_np_array

from .._mxnet import gluon, mx, nn, np

T = gluon.data.vision.transforms


class RandomPadCrop(nn.Block):
    """Translate an HWC image by up to `pad` pixels, filling with zeros."""

    def __init__(self, pad=4):
        super().__init__()
        if not isinstance(pad, int) or pad < 0:
            raise ValueError(f"RandomPadCrop: pad must be an integer >= 0, got {pad!r}")
        self.pad = pad

    def forward(self, x):
        if x.ndim != 3:
            raise ValueError(f"RandomPadCrop expects an HWC image, got shape {x.shape}")
        h, w = x.shape[:2]
        # out[i, j] = x[i + dy, j + dx], 0 outside: the crop at (top, left) of the image
        # padded by `pad`. Done in host NumPy: ~7x faster than MXNet's np.pad + slice.
        dy, dx = onp.random.randint(0, 2 * self.pad + 1, size=2) - self.pad
        img = x.asnumpy()
        out = onp.zeros_like(img)
        out[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)] = \
            img[max(0, dy):h - max(0, -dy), max(0, dx):w - max(0, -dx)]
        return np.array(out, dtype=out.dtype)

    def __repr__(self):
        return f'{type(self).__name__}(pad={self.pad})'


class RandomErasing(nn.Block):
    """Erase one random rectangle of a CHW tensor with probability `p`."""

    def __init__(self, p=0.5, scale=(0.02, 0.4), ratio=(0.3, 1 / 0.3), value=0.0):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"RandomErasing: p must be in [0, 1], got {p!r}")
        if not 0 < scale[0] <= scale[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"RandomErasing: need 0 < scale[0] <= scale[1] <= 1 and "
                             f"0 < ratio[0] <= ratio[1], got scale={scale}, ratio={ratio}")
        self.p, self.scale, self.ratio, self.value = p, tuple(scale), tuple(ratio), value

    def box(self, h, w):
        """Draw (top, left, height, width) of the rectangle, or None (not erased)."""
        if onp.random.rand() >= self.p:
            return None
        for _ in range(10):  # the paper retries until the rectangle fits
            area = onp.random.uniform(*self.scale) * h * w
            aspect = math.exp(onp.random.uniform(math.log(self.ratio[0]),
                                                 math.log(self.ratio[1])))
            eh, ew = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
            if 0 < eh <= h and 0 < ew <= w:
                return (onp.random.randint(0, h - eh + 1), onp.random.randint(0, w - ew + 1),
                        eh, ew)
        return None

    def forward(self, x):
        if x.ndim != 3:
            raise ValueError(f"RandomErasing expects a CHW tensor, got shape {x.shape}")
        b = self.box(x.shape[1], x.shape[2])
        if b is None:
            return x
        top, left, eh, ew = b
        out = x.copy()
        out[:, top:top + eh, left:left + ew] = self.value
        return out

    def __repr__(self):
        return (f'{type(self).__name__}(p={self.p}, scale={self.scale}, '
                f'ratio=({self.ratio[0]:.3g}, {self.ratio[1]:.3g}), value={self.value})')


class RandomColorJitter(nn.Block):
    """Gluon's RandomColorJitter (same arguments, ranges, random order of the four
    adjustments) without MXNet 1.x's hue segfault (module docstring). A plain
    Block: its order is drawn in Python, so ``Compose`` must not hybridize it."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        super().__init__()
        self._args = (brightness, contrast, saturation, hue)

    def __repr__(self):
        return '{}(brightness={}, contrast={}, saturation={}, hue={})'.format(
            type(self).__name__, *self._args)

    def draw(self):
        """[(adjustment index, factor)] in the order they apply: 0 brightness,
        1 contrast, 2 saturation, 3 hue (as the fused op numbers them)."""
        steps = []
        for k in onp.random.permutation(4):
            amount = self._args[k]
            if amount > 0:
                a = onp.random.uniform(-amount, amount)
                steps.append((int(k), a if k == 3 else 1.0 + a))
        return steps

    def forward(self, x):
        image = mx.npx.image if is_np_array() else mx.nd.image   # as Gluon's own transforms
        for k, factor in self.draw():
            if k == 3:   # a < 0 turns as 1 + a: the same rotation, never a negative hue
                turns = factor if factor >= 0 else 1.0 + factor
                x = image.random_hue(x, turns, turns)
            else:
                op = (image.random_brightness, image.random_contrast,
                      image.random_saturation)[k]
                x = op(x, factor, factor)
        return x
