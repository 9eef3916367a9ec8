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
random tensor per batch (no Python loop over images): its ``draw(F, x)``
returns the parameters as ``(N, 1, 1, 1)`` tensors and its ``apply(F, x,
*params)`` is deterministic, so tests can pass forced parameters
(``block.apply(mx.nd, x, ...)``: `F` is the namespace
holding ``np``/``npx``, as in ``hybrid_forward``). Blocks work imperatively, hybridized, and on
any context (the random numbers come from that context's generator).

Geometry is one separable resampling, ``out = Wy @ x @ Wx^T``, with per-sample
weight matrices ``max(0, 1 - |src - j|)``: integer source coordinates give an
exact shift with zero fill (pad-and-crop), clamped fractional ones give
OpenCV's bilinear resize of a crop (``INTER_LINEAR``, half-pixel centers).

``get_batch_preset(name)`` returns a ready ``HybridSequential`` for every
preset of ``presets.PRESETS``, built by translating that preset's own steps,
so the parameters cannot drift; ``batch_split(aug)`` turns it into the
``split_f`` the engine calls.
"""
import math

from ._mxnet import gluon, nn
from .batch_color import BatchColorJitter
from .devices import split_batch
from .errors import UsageError
from .presets import CIFAR10_MEAN, CIFAR10_STD, PRESETS
from .transforms import RandomErasing, RandomPadCrop

T = gluon.data.vision.transforms

__all__ = ['BatchAugmenter', 'BatchFlipLeftRight', 'BatchFlipTopBottom', 'BatchPadCrop',
           'BatchResizedCrop', 'BatchErasing', 'BatchNormalize', 'BatchColorJitter',
           'to_batch', 'get_batch_preset', 'batch_split', 'BATCH_PRESETS']


def uniform(F, like, low=0.0, high=1.0, k=1):
    """(N, k) draws from U[low, high), or (N, 1, 1, 1) if k is None; N = like.shape[0]."""
    z = F.np.zeros_like(like[:, :1, :1, :1])
    if k is not None:
        z = F.np.tile(z.reshape(-1, 1), (1, k))
    return F.np.random.uniform(low=z + low, high=z + high)


def first_valid(F, valid, *candidates):
    """Per row, the candidates at the first True of `valid` (N, k); plus any(valid), all (N, 1, 1, 1)."""
    idx = F.np.argmax(valid, axis=1)  # the first maximum: the first valid try
    picked = [F.npx.pick(c, idx, axis=1).reshape(-1, 1, 1, 1) for c in candidates]
    return picked + [F.np.max(valid, axis=1).reshape(-1, 1, 1, 1)]


def resample(F, x, rows, cols):
    """out[n, c, i, j] = sum_r,s wy(rows[n, i] - r) x[n, c, r, s] wx(cols[n, j] - s).

    `rows` (N, 1, Ho, 1) and `cols` (N, 1, 1, Wo) are source coordinates in
    pixels; w(d) = max(0, 1 - |d|) (bilinear; 0 outside the image = zero fill).
    """
    r = F.npx.arange_like(x, axis=2).reshape(1, 1, 1, -1)
    s = F.npx.arange_like(x, axis=3).reshape(1, 1, -1, 1)
    wy = F.np.maximum(0, 1 - F.np.abs(rows - r))         # (N, 1, Ho, H)
    wx = F.np.maximum(0, 1 - F.np.abs(cols - s))         # (N, 1, W, Wo)
    return F.np.matmul(F.np.matmul(wy, x), wx)


def image_size(F, x):
    """(H, W) of an NCHW batch as float (1,) tensors, usable when hybridized."""
    return (F.npx.arange_like(x, axis=2)[-1:] + 1, F.npx.arange_like(x, axis=3)[-1:] + 1)


class BatchAugmenter(nn.HybridBlock):
    """Base: ``hybrid_forward(F, x) = apply(F, x, *draw(F, x))``."""

    def draw(self, F, x):
        raise NotImplementedError

    def apply(self, F, x, *params):
        raise NotImplementedError

    def hybrid_forward(self, F, x):
        return self.apply(F, x, *self.draw(F, x))

    def forward(self, x, *args):
        if hasattr(x, 'ndim') and x.ndim != 4:  # symbols (inside a hybridized parent) pass
            raise ValueError(f"{type(self).__name__} expects an NCHW batch, got shape {x.shape}")
        return super().forward(x, *args)


class BatchFlipLeftRight(BatchAugmenter):
    """Mirror each image left-right with probability `p` (one Bernoulli(p) per sample)."""

    def __init__(self, p=0.5, axis=3):
        super().__init__()
        self.p, self.axis = p, axis

    def draw(self, F, x):
        return (uniform(F, x, k=None) < self.p,)

    def apply(self, F, x, flip):
        # A reversed slice and a 0/1 blend: on MXNet's CPU backend np.flip is ~10x
        # slower than the slice, and np.where with a broadcast mask ~3x slower than
        # the blend, which stays exact (1*y + 0*x == y).
        mirrored = x[:, :, :, ::-1] if self.axis == 3 else x[:, :, ::-1, :]
        m = flip.astype('float32')  # batches are float32 (ToTensor's output)
        return m * mirrored + (1 - m) * x

    def __repr__(self):
        return f'{type(self).__name__}(p={self.p})'


class BatchFlipTopBottom(BatchFlipLeftRight):
    """Mirror each image top-bottom with probability `p` (one Bernoulli(p) per sample)."""

    def __init__(self, p=0.5):
        super().__init__(p, axis=2)


class BatchPadCrop(BatchAugmenter):
    """Twin of ``RandomPadCrop``: translate by up to `pad` pixels, zero fill.

    Per sample, `top` and `left` are uniform integers in {0, ..., 2 pad}:
    ``out[i, j] = x[i + top - pad, j + left - pad]`` (0 outside the image).
    """

    def __init__(self, pad=4):
        super().__init__()
        if not isinstance(pad, int) or pad < 0:
            raise ValueError(f"BatchPadCrop: pad must be an integer >= 0, got {pad!r}")
        self.pad = pad

    def draw(self, F, x):
        n = 2 * self.pad + 1
        return tuple(F.np.floor(uniform(F, x, 0, n, k=None)) for _ in 'tl')

    def apply(self, F, x, top, left):
        rows = F.npx.arange_like(x, axis=2).reshape(1, 1, -1, 1) + top - self.pad
        cols = F.npx.arange_like(x, axis=3).reshape(1, 1, 1, -1) + left - self.pad
        return resample(F, x, rows, cols)

    def __repr__(self):
        return f'{type(self).__name__}(pad={self.pad})'


def draw_boxes(F, x, scale, ratio, tall=False, tries=10):
    """The rectangle draw of ``random_size_crop``/``RandomErasing``, batched.

    `tries` attempts per sample, the first that fits wins: area uniform in
    `scale` x H x W, aspect log-uniform in `ratio`, sides rounded to integers
    (width = sqrt(area x aspect), or the height if `tall`, as RandomErasing
    has it); a try fits when 1 <= side <= image side. Returns (h, w, fits) as
    (N, 1, 1, 1) tensors (h, w of the first fit; fits 1.0 or 0.0).
    """
    H, W = image_size(F, x)
    area = uniform(F, x, scale[0], scale[1], k=tries) * H * W
    aspect = F.np.exp(uniform(F, x, math.log(ratio[0]), math.log(ratio[1]), k=tries))
    long, short = F.np.round(F.np.sqrt(area * aspect)), F.np.round(F.np.sqrt(area / aspect))
    h, w = (long, short) if tall else (short, long)
    fits = ((w >= 1) * (w <= W) * (h >= 1) * (h <= H)).astype('float32')
    return first_valid(F, fits, h, w)


def offsets(F, x, h, w):
    """Uniform integer (top, left) so that an h x w box lies inside the image."""
    H, W = image_size(F, x)
    top = F.np.floor(uniform(F, x, k=None) * (H.reshape(1, 1, 1, 1) - h + 1))
    left = F.np.floor(uniform(F, x, k=None) * (W.reshape(1, 1, 1, 1) - w + 1))
    return top, left


class BatchResizedCrop(BatchAugmenter):
    """Twin of Gluon's ``RandomResizedCrop`` (``image.random_size_crop``).

    `size` is an int or (width, height), as in Gluon. Per sample: 10 tries of
    area ~ U(scale) x H x W and width/height ~ logU(ratio), sides rounded; the
    first that fits is placed at uniform integer offsets; if none fits, the
    whole image is used (Gluon's center-crop fallback when input and output
    sizes match, as on CIFAR). The crop is resized bilinearly (OpenCV's
    half-pixel mapping, edge clamped to the crop). Output (N, C, height, width).
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
        super().__init__()
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.scale, self.ratio = tuple(scale), tuple(ratio)

    def draw(self, F, x):
        H, W = image_size(F, x)
        h, w, fits = draw_boxes(F, x, self.scale, self.ratio)
        h = F.np.where(fits > 0, h, H.reshape(1, 1, 1, 1))
        w = F.np.where(fits > 0, w, W.reshape(1, 1, 1, 1))
        top, left = offsets(F, x, h, w)
        return top, left, h, w

    def apply(self, F, x, top, left, h, w):
        out_w, out_h = self.size
        i = F.np.arange(out_h, dtype='float32').reshape(1, 1, -1, 1)
        j = F.np.arange(out_w, dtype='float32').reshape(1, 1, 1, -1)
        # half-pixel centers, clamped to the crop's edge pixels (OpenCV's border)
        rows = F.np.minimum(F.np.maximum(top - 0.5 + (i + 0.5) * h / out_h, top), top + h - 1)
        cols = F.np.minimum(F.np.maximum(left - 0.5 + (j + 0.5) * w / out_w, left),
                            left + w - 1)
        return resample(F, x, rows, cols)

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
        h, w, fits = draw_boxes(F, x, self.scale, self.ratio, tall=True)
        erase = (uniform(F, x, k=None) < self.p).astype('float32') * fits
        top, left = offsets(F, x, h, w)
        return erase, top, left, h, w

    def apply(self, F, x, erase, top, left, h, w):
        r = F.npx.arange_like(x, axis=2).reshape(1, 1, -1, 1)
        c = F.npx.arange_like(x, axis=3).reshape(1, 1, 1, -1)
        inside = (r >= top) * (r < top + h) * (c >= left) * (c < left + w) * erase
        return F.np.where(inside > 0, F.np.full_like(x, self.value), x)

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


def to_batch(step):
    """The batched twin of one per-sample step of a preset (None for ToTensor)."""
    if isinstance(step, T.ToTensor):
        return None
    if isinstance(step, T.RandomFlipLeftRight):
        return BatchFlipLeftRight()
    if isinstance(step, T.RandomFlipTopBottom):
        return BatchFlipTopBottom()
    if isinstance(step, RandomPadCrop):
        return BatchPadCrop(step.pad)
    if isinstance(step, T.RandomColorJitter):
        return BatchColorJitter(*step._args)  # (brightness, contrast, saturation, hue)
    if isinstance(step, T.RandomResizedCrop):
        size, scale, ratio, interpolation = step._args
        if interpolation != 1:
            raise ValueError(f"no batched twin of {step!r}: only bilinear (1) resizing")
        return BatchResizedCrop(size, scale, ratio)
    if isinstance(step, RandomErasing):
        return BatchErasing(step.p, step.scale, step.ratio, step.value)
    raise ValueError(f"no batched twin of the per-sample step {step!r}")


def _twin(factory):
    def make():
        return [b for b in map(to_batch, factory()) if b is not None]
    make.__doc__ = factory.__doc__
    return make


# name -> factory of the batched steps, translated from presets.PRESETS.
BATCH_PRESETS = {name: _twin(factory) for name, factory in PRESETS.items()}


def get_batch_preset(name, normalize=False):
    """A ready ``HybridSequential`` augmenting NCHW [0, 1] batches as preset `name` does.

    With `normalize`, CIFAR-10's channel standardization runs last, as in
    ``presets.get_preset``. Call ``.hybridize()`` on it for speed.
    """
    try:
        factory = BATCH_PRESETS[name]
    except KeyError:
        raise UsageError(f"unknown augmentation preset {name!r}; choose one of: "
                         f"{', '.join(BATCH_PRESETS)}") from None
    seq = nn.HybridSequential()
    steps = factory() + ([BatchNormalize()] if normalize else [])
    if steps:
        seq.add(*steps)
    return seq


def batch_split(aug):
    """A ``split_f(X, y, devices)`` that splits with ``split_batch``, then runs `aug`
    on each shard on its device. For training only: evaluate with ``split_batch``
    (``train_ch13(..., eval_split_f=split_batch)``)."""
    def split_and_augment(X, y, devices):
        X_shards, y_shards = split_batch(X, y, devices)
        return [aug(x) for x in X_shards], y_shards
    split_and_augment.aug = aug
    return split_and_augment
