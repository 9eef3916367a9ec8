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

Geometry: whole-pixel moves (flips, pad-and-crop) are ``BatchIndexMap``
blocks that map output coordinates to input ones; ``BatchPipeline`` composes
a run of them into one gather (one ``take`` over the batch), and folds them
into the one separable resampling of a resized crop when there is one
(``out = Wy @ x @ Wx^T`` with per-sample weights ``max(0, 1 - |src - j|)``:
clamped fractional coordinates give OpenCV's bilinear resize of a crop,
``INTER_LINEAR``, half-pixel centers). Zero fill stays exact through the
composition. The code avoids ops that are slow on MXNet's CPU backend
(``np.where``, ``np.flip``, broadcasting matmuls, ``np.mean``): see
docs/BENCHMARKS.md for what that buys.

``get_batch_preset(name)`` returns a ready ``BatchPipeline`` for every
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

__all__ = ['BatchAugmenter', 'BatchIndexMap', 'BatchPipeline', 'BatchFlipLeftRight',
           'BatchFlipTopBottom', 'BatchPadCrop', 'BatchResizedCrop', 'BatchErasing', 'BatchNormalize', 'BatchColorJitter',
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


def resample(F, x, rows, cols, channels=None, keep_rows=None, keep_cols=None):
    """out[n, c, i, j] = sum_r,s wy(rows[n, i] - r) x[n, c, r, s] wx(cols[n, j] - s).

    `rows` (N, 1, Ho, 1) and `cols` (N, 1, 1, Wo) are source coordinates in
    pixels; w(d) = max(0, 1 - |d|) (bilinear; 0 outside the image = zero fill).
    With `channels` known, the weights are repeated over the channel axis
    first: on MXNet's CPU backend a broadcasting matmul is ~3x slower than
    the same matmul on repeated weights. `keep_rows` (N, 1, Ho, 1) and
    `keep_cols` (N, 1, 1, Wo), 0/1, zero whole output rows and columns.
    """
    r = F.npx.arange_like(x, axis=2).reshape(1, 1, 1, -1)
    s = F.npx.arange_like(x, axis=3).reshape(1, 1, -1, 1)
    wy = F.np.maximum(0, 1 - F.np.abs(rows - r))         # (N, 1, Ho, H)
    wx = F.np.maximum(0, 1 - F.np.abs(cols - s))         # (N, 1, W, Wo)
    if keep_rows is not None:
        wy, wx = wy * keep_rows, wx * keep_cols
    if channels:
        wy, wx = (F.broadcast_axis(w.as_nd_ndarray(), axis=1, size=channels).as_np_ndarray()
                  for w in (wy, wx))
    return F.np.matmul(F.np.matmul(wy, x), wx)


def in_range(F, coords, size):
    """1.0 where 0 <= coords < size, else 0.0."""
    return (coords >= 0) * (coords < size)


def gather(F, x, rows, cols, inside=None):
    """out[n, c, i, j] = x[n, c, rows[n, i], cols[n, j]], times `inside`.

    `rows` (N, 1, Ho, 1) and `cols` (N, 1, 1, Wo) hold integer pixel
    coordinates inside the image; `inside` (N, 1, Ho, Wo) of 1.0 or 0.0, or
    None (all 1). One ``take`` over the flattened batch with int32 indices,
    exact for batches of up to 2**31 values (MXNet's legacy ``take`` is ~2.5x
    faster than ``np.take`` on CPU, and int32 indices ~2x faster than float).
    """
    H, W = image_size(F, x)
    C = F.npx.arange_like(x, axis=1)[-1:] + 1
    pix = (rows * W.reshape(1, 1, 1, 1) + cols).astype('int32')      # (N, 1, Ho, Wo)
    n = F.npx.arange_like(x, axis=0).reshape(-1, 1, 1, 1)
    c = F.npx.arange_like(x, axis=1).reshape(1, -1, 1, 1)
    plane = (n * C.reshape(1, 1, 1, 1) + c).astype('int32') * \
        (H * W).astype('int32').reshape(1, 1, 1, 1)                  # (N, C, 1, 1)
    out = F.take(x.reshape(-1).as_nd_ndarray(), (plane + pix).as_nd_ndarray()).as_np_ndarray()
    return out if inside is None else out * inside


def remap(F, x, steps, channels=None):
    """Run a chain of geometric steps as one gather, or as one resampling.

    `steps`: (block, params) in the order they apply, all ``BatchIndexMap``
    (whole-pixel moves: flips, pad-and-crop) except at most one
    ``BatchResizedCrop``. Every step maps output coordinates to its input's
    (``source``/``coords``); composing them backwards from the last step gives,
    for every output pixel, where in `x` it reads. A whole-pixel step that
    reads outside its image shows 0 there (its zero fill), tracked as a 0/1
    row and column mask; before a resize, fractional coordinates outside the
    image get zero bilinear weight, which is the same zero fill.
    `channels`: passed on to ``resample``.
    """
    crops = [k for k, (block, _) in enumerate(steps) if isinstance(block, BatchResizedCrop)]
    if len(crops) > 1:
        raise ValueError('remap: at most one BatchResizedCrop per chain')
    z = F.np.zeros_like(x[:, :1, :1, :1])                     # (N, 1, 1, 1): per sample
    if crops:
        k = crops[0]
        before, (crop, crop_params), after = steps[:k], steps[k], steps[k + 1:]
        out_w, out_h = crop.size
        rows = F.np.arange(out_h, dtype='float32').reshape(1, 1, -1, 1) + z
        cols = F.np.arange(out_w, dtype='float32').reshape(1, 1, 1, -1) + z
        H, W = float(out_h), float(out_w)
    else:
        before, after = [], steps
        H, W = image_size(F, x)
        H, W = H.reshape(1, 1, 1, 1), W.reshape(1, 1, 1, 1)
        rows = F.npx.arange_like(x, axis=2).reshape(1, 1, -1, 1) + z
        cols = F.npx.arange_like(x, axis=3).reshape(1, 1, 1, -1) + z
    keep_rows = keep_cols = None
    for block, params in reversed(after):
        rows, cols = block.source(F, rows, cols, H, W, *params)
        if not block.stays_inside:
            inside_rows, inside_cols = in_range(F, rows, H), in_range(F, cols, W)
            keep_rows = inside_rows if keep_rows is None else keep_rows * inside_rows
            keep_cols = inside_cols if keep_cols is None else keep_cols * inside_cols
            # clamp, so the gather reads a real pixel (then multiplied by 0)
            rows = F.np.minimum(F.np.maximum(rows, 0), H - 1)
            cols = F.np.minimum(F.np.maximum(cols, 0), W - 1)
    if not crops:
        inside = None if keep_rows is None else keep_rows * keep_cols
        return gather(F, x, rows, cols, inside)
    rows, cols = crop.coords(F, rows, cols, *crop_params)
    H, W = image_size(F, x)
    H, W = H.reshape(1, 1, 1, 1), W.reshape(1, 1, 1, 1)
    for block, params in reversed(before):
        rows, cols = block.source(F, rows, cols, H, W, *params)
    return resample(F, x, rows, cols, channels, keep_rows, keep_cols)


def image_size(F, x):
    """(H, W) of an NCHW batch as float (1,) tensors, usable when hybridized."""
    return (F.npx.arange_like(x, axis=2)[-1:] + 1, F.npx.arange_like(x, axis=3)[-1:] + 1)


class BatchAugmenter(nn.HybridBlock):
    """Base: ``hybrid_forward(F, x) = apply(F, x, *draw(F, x))``."""

    _channels = None  # C of the batches seen, for ops that repeat weights over C

    def draw(self, F, x):
        raise NotImplementedError

    def apply(self, F, x, *params):
        raise NotImplementedError

    def hybrid_forward(self, F, x):
        return self.apply(F, x, *self.draw(F, x))

    def forward(self, x, *args):
        if hasattr(x, 'ndim'):  # symbols (inside a hybridized parent) pass
            check_batch(self, x)
            self.set_channels(x.shape[1])
        return super().forward(x, *args)

    def set_channels(self, channels):
        """Record the batches' channel count; a cached graph built for another is dropped."""
        if channels != self._channels:
            self._channels = channels
            self._clear_cached_op()
            return True
        return False


def check_batch(block, x):
    if x.ndim != 4:
        raise ValueError(f"{type(block).__name__} expects an NCHW batch, got shape {x.shape}")


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
        return remap(F, x, [(self, params)])


class BatchFlipLeftRight(BatchIndexMap):
    """Mirror each image left-right with probability `p` (one Bernoulli(p) per sample)."""

    stays_inside = True

    def __init__(self, p=0.5, axis=3):
        super().__init__()
        self.p, self.axis = p, axis

    def draw(self, F, x):
        return (uniform(F, x, k=None) < self.p,)

    def apply(self, F, x, flip):
        """A flip alone: a reversed slice and a 0/1 blend, exact (1 y + 0 x == y)
        and cheaper than a gather (same at 32x32, ~3x at 224x224; np.flip and a
        broadcast np.where are ~10x and ~3x slower on MXNet's CPU backend). In a
        chain with other moves it runs as part of one gather (``source``)."""
        mirrored = x[:, :, :, ::-1] if self.axis == 3 else x[:, :, ::-1, :]
        m = flip.astype('float32')  # batches are float32 (ToTensor's output)
        return m * mirrored + (1 - m) * x

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
    """

    def __init__(self, pad=4):
        super().__init__()
        if not isinstance(pad, int) or pad < 0:
            raise ValueError(f"BatchPadCrop: pad must be an integer >= 0, got {pad!r}")
        self.pad = pad

    def draw(self, F, x):
        n = 2 * self.pad + 1
        return tuple(F.np.floor(uniform(F, x, 0, n, k=None)) for _ in 'tl')

    def source(self, F, rows, cols, H, W, top, left):
        return rows + top - self.pad, cols + left - self.pad

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

    def coords(self, F, i, j, top, left, h, w):
        """Source rows and columns in the input of output rows `i` and columns `j`."""
        out_w, out_h = self.size
        # half-pixel centers, clamped to the crop's edge pixels (OpenCV's border)
        rows = F.np.minimum(F.np.maximum(top - 0.5 + (i + 0.5) * h / out_h, top), top + h - 1)
        cols = F.np.minimum(F.np.maximum(left - 0.5 + (j + 0.5) * w / out_w, left),
                            left + w - 1)
        return rows, cols

    def apply(self, F, x, *params):
        return remap(F, x, [(self, params)], self._channels)

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
        inside = ((r >= top) * (r < top + h) * erase) * ((c >= left) * (c < left + w))
        # a 0/1 blend, exact, and ~5x faster than np.where on MXNet's CPU backend
        out = x * (1 - inside)
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
    """A ready ``BatchPipeline`` augmenting NCHW [0, 1] batches as preset `name` does.

    With `normalize`, CIFAR-10's channel standardization runs last, as in
    ``presets.get_preset``. Call ``.hybridize()`` on it for speed.
    """
    try:
        factory = BATCH_PRESETS[name]
    except KeyError:
        raise UsageError(f"unknown augmentation preset {name!r}; choose one of: "
                         f"{', '.join(BATCH_PRESETS)}") from None
    seq = BatchPipeline()
    steps = factory() + ([BatchNormalize()] if normalize else [])
    if steps:
        seq.add(*steps)
    return seq


class BatchPipeline(nn.HybridSequential):
    """A ``HybridSequential`` of batched augmenters that fuses consecutive
    geometric steps (``BatchIndexMap``: flips, pad-and-crop; and at most one
    ``BatchResizedCrop``) into one gather or one resampling (``remap``), and
    tells its steps the batches' channel count."""

    def forward(self, x, *args):
        if hasattr(x, 'ndim'):
            check_batch(self, x)
            changed = [b.set_channels(x.shape[1]) for b in self._children.values()
                       if isinstance(b, BatchAugmenter)]
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
            return remap(F, x, chain, channels) if chain else x
        for block in self._children.values():
            crop = isinstance(block, BatchResizedCrop)
            if isinstance(block, BatchIndexMap) or crop:
                if crop and any(isinstance(b, BatchResizedCrop) for b, _ in chain):
                    x, chain = run(x, chain), []
                # draws see the chain's input: index maps keep the size, and a
                # step after the resize draws only per-sample values
                chain.append((block, block.draw(F, x)))
                continue
            x, chain = run(x, chain), []
            x = block(x)
        return run(x, chain)


def batch_split(aug):
    """A ``split_f(X, y, devices)`` that splits with ``split_batch``, then runs `aug`
    on each shard on its device. For training only: evaluate with ``split_batch``
    (``train_ch13(..., eval_split_f=split_batch)``)."""
    def split_and_augment(X, y, devices):
        X_shards, y_shards = split_batch(X, y, devices)
        return [aug(x) for x in X_shards], y_shards
    split_and_augment.aug = aug
    return split_and_augment
