"""Batched, on-device twins of the per-sample augmenters (airbench style).

Every augmenter here is a Gluon ``HybridBlock`` that takes a whole batch that
is already on the training device and returns a batch of the same kind:

    input  (N, C, H, W) float32 in [0, 1]   (what ``ToTensor`` gives, i.e. the
                                             loader converts, the device augments)
    output (N, C, H, W) float32 in [0, 1]   (``BatchResizedCrop``: (N, C, h, w))

Why after ToTensor: the geometric ops interpolate and the color ops blend, so
they want floats; the loader's only per-image work is the cheap uint8 -> float
conversion, and Normalize runs after augmentation, as in the per-sample
pipelines. Each block draws **independent parameters per sample** with one
random tensor per batch and applies them deterministically (``base``).
Blocks work imperatively, hybridized, and on any context (the random numbers
come from that context's generator).

Geometry: whole-pixel moves (flips, pad-and-crop) are ``BatchIndexMap``
blocks that map output coordinates to input ones; ``BatchPipeline`` composes
a run of them into one separable gather (whole rows, then whole columns as
the rows of the transposed batch), and folds them into the one separable
resampling of a resized crop when there is one (``out = Wy @ x @ Wx^T`` with
per-sample weights ``max(0, 1 - |src - j|)``, its rows gathered two at a time:
clamped fractional coordinates give OpenCV's bilinear resize of a crop,
``INTER_LINEAR``, half-pixel centers). Zero fill stays exact through the
composition.

The kernels are in ``geometry.py``, the base class in
``base.py``, colour jitter in ``color.py``; on a CPU the gather or
resampling, erasing and jitter run as one-pass fused kernels instead
(``native.py``, the same results); ``presets.py`` translates every preset
of ``presets.PRESETS`` into a ``BatchPipeline``.
"""
import numpy as onp

from ..._mxnet import legacy, nn
from ..presets import CIFAR10_MEAN, CIFAR10_STD
from . import native
from .base import BatchAugmenter, check_nchw_batch, uniform
from .geometry import (TRIES, draw_boxes, draw_boxes_fused, gather_cols, gather_rows,
                       image_size, offsets, remap, times_plane)

__all__ = ['BatchIndexMap', 'BatchPipeline', 'BatchFlipLeftRight', 'BatchFlipTopBottom',
           'BatchAlternatingFlip', 'BatchPadCrop', 'BatchResizedCrop', 'BatchErasing',
           'BatchNormalize']


class BatchIndexMap(BatchAugmenter):
    """Geometry that moves whole pixels: ``out[i, j] = x[source(i, j)]``, 0 outside.

    Subclasses give ``source(F, rows, cols, H, W, *params)``: the input
    coordinates that output rows `rows` (N, 1, Ho, 1) and columns `cols`
    (N, 1, 1, Wo) read (`H`, `W`: the input size as (1, 1, 1, 1) tensors).
    Consecutive index maps in a ``BatchPipeline`` run as one gather
    (``remap``). ``stays_inside``: the map never reads outside its input
    (flips), so no zero fill is needed.
    """

    stays_inside = False

    def source(self, F, rows, cols, H, W, *params):
        raise NotImplementedError

    def apply(self, F, x, *params):
        return remap(F, x, [(self, params)], self._channels, native_kernels=self._native)


class BatchFlipLeftRight(BatchIndexMap):
    """Mirror each image left-right with probability `p` (one Bernoulli(p) per sample)."""

    stays_inside = True

    def __init__(self, p=0.5, axis=3):
        super().__init__()
        self.p, self.axis = p, axis

    def draw(self, F, x):
        return (uniform(F, x, k=None) < self.p,)

    def apply(self, F, x, flip):
        """A flip alone: one gather of whole rows (top-bottom), or of whole columns as the
        rows of the batch with H and W swapped (left-right): exact, and cheaper than a
        reversing slice and a blend (~3x at 224x224, scripts/profile_augment.py). In a chain
        with other moves it runs as part of one gather (``source``). With the fused kernels,
        one pass (``remap``)."""
        if self._native:
            return remap(F, x, [(self, (flip,))], self._channels, native_kernels=True)
        H, W = (v.reshape(1, 1, 1, 1) for v in image_size(F, x))
        if self.axis == 3:
            cols = F.npx.arange_like(x, axis=3).reshape(1, 1, 1, -1)
            return gather_cols(F, x, self.source(F, None, cols, H, W, flip)[1])
        rows = F.npx.arange_like(x, axis=2).reshape(1, 1, -1, 1)
        return gather_rows(F, x, self.source(F, rows, None, H, W, flip)[0])

    def source(self, F, rows, cols, H, W, flip):
        m = flip.astype('float32')          # 0/1 per sample: j -> j or size - 1 - j
        if self.axis == 3:
            return rows, cols + m * (W - 1 - 2 * cols)
        return rows + m * (H - 1 - 2 * rows), cols

    def __repr__(self):
        return f'{type(self).__name__}(p={self.p})'


class BatchFlipTopBottom(BatchFlipLeftRight):
    """Mirror each image top-bottom with probability `p` (one Bernoulli(p) per sample)."""

    def __init__(self, p=0.5):
        super().__init__(p, axis=2)


class BatchPadCrop(BatchIndexMap):
    """Twin of ``RandomPadCrop``: translate by up to `pad` pixels, zero fill.

    Per sample, `top` and `left` are uniform integers in {0, ..., 2 pad}:
    ``out[i, j] = x[i + top - pad, j + left - pad]`` (0 outside the image).
    `reflect`: read the mirror image across the border instead of 0
    (``np.pad(mode='reflect')``), as airbench translates.
    """

    def __init__(self, pad=4, reflect=False):
        super().__init__()
        if not isinstance(pad, int) or pad < 0:
            raise ValueError(f"BatchPadCrop: pad must be an integer >= 0, got {pad!r}")
        self.pad, self.reflect = pad, reflect
        self.stays_inside = reflect

    def draw(self, F, x):
        u = uniform(F, x, k=2)   # the block's one random tensor: top, left
        return tuple(F.np.floor(u[:, k:k + 1].reshape(-1, 1, 1, 1) * (2 * self.pad + 1))
                     for k in (0, 1))

    def source(self, F, rows, cols, H, W, top, left):
        rows, cols = rows + top - self.pad, cols + left - self.pad
        if self.reflect:   # -1 -> 1, H -> H - 2 (valid for pad < size)
            rows = (H - 1) - F.np.abs((H - 1) - F.np.abs(rows))
            cols = (W - 1) - F.np.abs((W - 1) - F.np.abs(cols))
        return rows, cols

    def __repr__(self):
        return (f'{type(self).__name__}(pad={self.pad}'
                + (', reflect=True)' if self.reflect else ')'))


class BatchAlternatingFlip(BatchFlipLeftRight):
    """Derandomized left-right flips (airbench): example i is mirrored in epoch 0
    with probability 1/2 (``first[i]``), then in exactly every other epoch.

    Its parameters depend on which examples a batch holds, so a loader that
    knows them (``loaders.ArrayLoader``) asks ``flips(indices, epoch)`` and
    passes them to ``apply`` or ``remap``; ``draw`` (no indices) is refused.
    """

    def __init__(self, length, seed):
        super().__init__(p=0.5)
        self.first = onp.random.RandomState([int(seed), 1]).randint(0, 2, size=length)

    def flips(self, indices, epoch):
        """(N,) 0/1 float32 flip bits of examples `indices` in `epoch`."""
        return (self.first[indices] ^ (epoch & 1)).astype('float32')

    def draw(self, F, x):
        raise TypeError('BatchAlternatingFlip needs the examples\' indices: use flips()')

    def __repr__(self):
        return f'{type(self).__name__}(length={len(self.first)})'


class BatchResizedCrop(BatchAugmenter):
    """Twin of Gluon's ``RandomResizedCrop`` (``image.random_size_crop``).

    `size` is an int or (width, height), as in Gluon. Per sample: 10 tries of
    area ~ U(scale) x H x W and width/height ~ logU(ratio), sides rounded; the
    first that fits is placed at uniform integer offsets; if none fits, the
    whole image is used (Gluon's center-crop fallback when input and output
    sizes match, as on CIFAR). The crop is resized bilinearly (OpenCV's
    half-pixel mapping, edge clamped to the crop). Output (N, C, height, width).
    """

    resizes = True   # remap: at most one per chain, folded into one resampling

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
        super().__init__()
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.scale, self.ratio = tuple(scale), tuple(ratio)

    def draw(self, F, x):
        u = uniform(F, x, k=2 * TRIES + 2)   # the block's one random tensor: boxes, offsets
        if self._native:
            return tuple(draw_boxes_fused(F, x, self.scale, self.ratio, u, whole=True)[1:])
        H, W = image_size(F, x)
        h, w, fits = draw_boxes(F, x, self.scale, self.ratio, u[:, :2 * TRIES])
        h = F.np.where(fits > 0, h, H.reshape(1, 1, 1, 1))
        w = F.np.where(fits > 0, w, W.reshape(1, 1, 1, 1))
        top, left = offsets(F, x, h, w, u[:, 2 * TRIES:])
        return top, left, h, w

    def coords(self, F, i, j, top, left, h, w):
        """Source rows and columns in the input of output rows `i` and columns `j`."""
        out_w, out_h = self.size
        # half-pixel centers, clamped to the crop's edge pixels (OpenCV's border)
        rows = F.np.minimum(F.np.maximum(top - 0.5 + (i + 0.5) * h / out_h, top), top + h - 1)
        cols = F.np.minimum(F.np.maximum(left - 0.5 + (j + 0.5) * w / out_w, left),
                            left + w - 1)
        return rows, cols

    def apply(self, F, x, *params):
        return remap(F, x, [(self, params)], self._channels, self._height, self._native)

    def __repr__(self):
        return f'{type(self).__name__}(size={self.size}, scale={self.scale}, ratio={self.ratio})'


class BatchErasing(BatchAugmenter):
    """Twin of ``transforms.RandomErasing``: with probability `p` set one box to `value`.

    Box: area ~ U(scale) x H x W, height/width ~ logU(ratio) (height =
    sqrt(area x ratio)), 10 tries, first fit wins (none fits: not erased),
    uniform integer offsets. Erases all channels.
    """

    def __init__(self, p=0.5, scale=(0.02, 0.4), ratio=(0.3, 1 / 0.3), value=0.0):
        super().__init__()
        self.p, self.scale, self.ratio, self.value = p, tuple(scale), tuple(ratio), value

    def draw(self, F, x):
        u = uniform(F, x, k=2 * TRIES + 3)   # one random tensor: boxes, coin, offsets
        if self._native:
            return tuple(draw_boxes_fused(F, x, self.scale, self.ratio, u, tall=True, p=self.p))
        h, w, fits = draw_boxes(F, x, self.scale, self.ratio, u[:, :2 * TRIES], tall=True)
        coin = u[:, 2 * TRIES:2 * TRIES + 1].reshape(-1, 1, 1, 1)
        erase = (coin < self.p).astype('float32') * fits
        top, left = offsets(F, x, h, w, u[:, 2 * TRIES + 1:])
        return erase, top, left, h, w

    @staticmethod
    def boxes(F, erase, top, left, h, w):
        """The parameters as the kernels take them: (N, 5) rows of erase, top, left, h, w."""
        return F.np.concatenate([v.reshape(-1, 1) for v in (erase, top, left, h, w)], axis=1)

    def apply(self, F, x, erase, top, left, h, w):
        if self._native:   # one pass: the batch copied, each erased box filled
            return legacy(F, 'gluon_aug_erase', x, self.boxes(F, erase, top, left, h, w),
                          value=float(self.value))
        r = F.npx.arange_like(x, axis=2).reshape(1, 1, -1, 1)
        c = F.npx.arange_like(x, axis=3).reshape(1, 1, 1, -1)
        inside = ((r >= top) * (r < top + h) * erase) * ((c >= left) * (c < left + w))
        # a 0/1 product, exact, and ~5x faster than np.where on MXNet's CPU backend
        out = times_plane(F, x, 1 - inside, self._channels)
        return out + inside * self.value if self.value else out

    def __repr__(self):
        return (f'{type(self).__name__}(p={self.p}, scale={self.scale}, '
                f'ratio=({self.ratio[0]:.3g}, {self.ratio[1]:.3g}), value={self.value})')


class BatchNormalize(nn.HybridBlock):
    """(x - mean[c]) / std[c] on an NCHW batch (Gluon's Normalize, batched)."""

    def __init__(self, mean=CIFAR10_MEAN, std=CIFAR10_STD):
        super().__init__()
        self.mean, self.std = tuple(mean), tuple(std)

    def hybrid_forward(self, F, x):
        return F.npx.image.normalize(x, mean=self.mean, std=self.std)

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class BatchPipeline(nn.HybridSequential):
    """A ``HybridSequential`` of batched augmenters that fuses consecutive
    geometric steps (``BatchIndexMap``: flips, pad-and-crop; and at most one
    ``BatchResizedCrop``) into one gather or one resampling (``remap``), and
    tells its steps the batches' channel count."""

    def forward(self, x, *args):
        if hasattr(x, 'ndim'):
            check_nchw_batch(self, x)
            fused = native.usable(x.context)
            changed = [b.set_channels(x.shape[1], x.shape[2], fused)
                       for b in self._children.values() if isinstance(b, BatchAugmenter)]
            if any(changed):
                self._clear_cached_op()
        return super().forward(x, *args)

    def hybrid_forward(self, F, x):
        chain = []   # geometric steps not run yet: index maps and at most one resized crop

        def run(x, chain):
            if len(chain) == 1:   # a step alone runs its own apply (a lone flip: a blend)
                block, params = chain[0]
                return block.apply(F, x, *params)
            channels = next((b._channels for b, _ in chain if b._channels), None)
            height = next((b._height for b, _ in chain if b._height), None)
            fused = any(b._native for b, _ in chain)
            return remap(F, x, chain, channels, height, fused) if chain else x
        for block in self._children.values():
            crop = getattr(block, 'resizes', False)
            if isinstance(block, BatchIndexMap) or crop:
                if crop and any(getattr(b, 'resizes', False) for b, _ in chain):
                    x, chain = run(x, chain), []
                # draws see the chain's input: index maps keep the size, and a
                # step after the resize draws only per-sample values
                chain.append((block, block.draw(F, x)))
                continue
            if (isinstance(block, BatchErasing) and block._native and chain
                    and not any(getattr(b, 'resizes', False) for b, _ in chain)):
                # erasing after whole-pixel moves: its boxes filled in the moves' kernel
                # pass (one pass over the batch, not two); its draws come after the
                # chain's, as when it runs alone, and see the same image size
                boxes = block.boxes(F, *block.draw(F, x))
                x = remap(F, x, chain, block._channels, block._height, True,
                          erase=(boxes, block.value))
                chain = []
                continue
            x, chain = run(x, chain), []
            x = block(x)
        return run(x, chain)
