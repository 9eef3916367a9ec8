"""Kernels of the batched geometric augmenters: per-sample draws, gathers, resampling.

All work on NCHW float batches inside ``hybrid_forward`` (`F` is the
namespace holding ``np``/``npx``) and avoid ops that are slow on MXNet's CPU
backend (``np.where``, ``np.flip``, broadcasting matmuls, ``np.mean``, a
``take`` of single values, one ``memcpy`` call each): see docs/BENCHMARKS.md
(``scripts/profile_augment.py``) for what that buys. ``remap`` composes a
chain of coordinate maps (``blocks.BatchIndexMap`` steps and at most one
resized crop) into one separable gather or one separable resampling.
"""
import math

from ..._mxnet import legacy, legacy_outputs
from .base import between


def first_valid(F, valid, *candidates):
    """Per row, the candidates at the first True of `valid` (N, k); plus any(valid), all (N, 1, 1, 1)."""
    idx = F.np.argmax(valid, axis=1)  # the first maximum: the first valid try
    picked = [F.npx.pick(c, idx, axis=1).reshape(-1, 1, 1, 1) for c in candidates]
    return picked + [F.np.max(valid, axis=1).reshape(-1, 1, 1, 1)]


def image_size(F, x):
    """(H, W) of an NCHW batch as float (1,) tensors, usable when hybridized."""
    return (F.npx.arange_like(x, axis=2)[-1:] + 1, F.npx.arange_like(x, axis=3)[-1:] + 1)


def resample(F, x, rows, cols, channels=None, keep_rows=None, keep_cols=None,
             gather_rows_first=False):
    """out[n, c, i, j] = sum_r,s wy(rows[n, i] - r) x[n, c, r, s] wx(cols[n, j] - s).

    `rows` (N, 1, Ho, 1) and `cols` (N, 1, 1, Wo) are source coordinates in
    pixels; w(d) = max(0, 1 - |d|) (bilinear; 0 outside the image = zero fill).
    `keep_rows` (N, 1, Ho, 1) and `keep_cols` (N, 1, 1, Wo), 0/1, zero whole
    output rows and columns. Two matmuls, with the weights repeated over the
    channel axis when `channels` is known (a broadcasting matmul is ~3x slower
    on MXNet's CPU backend). `gather_rows_first`: the rows as two row gathers
    and a blend instead (each output row reads at most two input rows), faster
    when the input has many more rows than the output (224 -> 32: ~2x), slower
    when not (32 -> 32); the same result but for float rounding.
    """
    if gather_rows_first:
        H, _ = image_size(F, x)
        top = F.np.floor(rows)
        frac = rows - top
        w0, w1 = (1 - frac) * in_range(top, H), frac * in_range(top + 1, H)
        if keep_rows is not None:
            w0, w1 = w0 * keep_rows, w1 * keep_rows
        r0 = F.np.minimum(F.np.maximum(top, 0), H - 1)
        r1 = F.np.minimum(F.np.maximum(top + 1, 0), H - 1)
        y = gather_rows(F, x, r0) * w0 + gather_rows(F, x, r1) * w1    # (N, C, Ho, W)
    else:
        r = F.npx.arange_like(x, axis=2).reshape(1, 1, 1, -1)
        wy = F.np.maximum(0, 1 - F.np.abs(rows - r))                    # (N, 1, Ho, H)
        if keep_rows is not None:
            wy = wy * keep_rows
        y = F.np.matmul(repeat_channels(F, wy, channels), x)
    s = F.npx.arange_like(x, axis=3).reshape(1, 1, -1, 1)
    wx = F.np.maximum(0, 1 - F.np.abs(cols - s))                      # (N, 1, W, Wo)
    if keep_cols is not None:
        wx = wx * keep_cols
    return F.np.matmul(y, repeat_channels(F, wx, channels))


def repeat_channels(F, w, channels):
    """(N, 1, ...) `w` repeated `channels` times along axis 1 (as it is if None)."""
    if not channels:
        return w
    return F.broadcast_axis(w.as_nd_ndarray(), axis=1, size=channels).as_np_ndarray()


def in_range(coords, size):
    """1.0 where 0 <= coords < size, else 0.0."""
    return (coords >= 0) * (coords < size)


def gather_rows(F, x, rows):
    """out[n, c, i, :] = x[n, c, rows[n, i], :] for (N, 1, Ho, 1) integer-valued `rows`
    inside the image: one ``take`` of whole rows (a memcpy each; a take of single
    values costs one call per value)."""
    H, _ = image_size(F, x)
    C = F.npx.arange_like(x, axis=1)[-1:] + 1
    n = F.npx.arange_like(x, axis=0).reshape(-1, 1, 1, 1)
    c = F.npx.arange_like(x, axis=1).reshape(1, -1, 1, 1)
    index = ((n * C.reshape(1, 1, 1, 1) + c) * H.reshape(1, 1, 1, 1) + rows).astype('int32')
    flat = F.reshape(F.reshape(x.as_nd_ndarray(), (-3, -2)), (-3, 0))     # (N C H, W)
    out = F.take(flat, index.reshape(-1).as_nd_ndarray())               # (N C Ho, W)
    return F.reshape_like(out, index.as_nd_ndarray(), lhs_begin=0, lhs_end=1, rhs_begin=0,
                          rhs_end=3).as_np_ndarray()


def gather_cols(F, x, cols):
    """out[n, c, :, j] = x[n, c, :, cols[n, j]] for (N, 1, 1, Wo) integer-valued `cols`
    inside the image: the rows of the batch with H and W swapped (``transpose`` of the
    last two axes costs about one copy; a reversing slice or ``where`` costs more)."""
    def swap(v):
        return F.transpose(v.as_nd_ndarray(), axes=(0, 1, 3, 2)).as_np_ndarray()
    return swap(gather_rows(F, swap(x), F.np.swapaxes(cols, 2, 3)))


def times_plane(F, x, plane, channels=None):
    """x * plane for an (N, 1, H, W) `plane`: repeated over the `channels` first when they
    are known (``broadcast_axis`` and a same-shape product cost ~2/3 of a broadcasting
    product on MXNet's CPU backend at 224x224)."""
    return x * repeat_channels(F, plane.astype('float32'), channels)   # 0/1 masks: maybe bool


def gather_separable(F, x, rows, cols, keep_rows=None, keep_cols=None, channels=None):
    """out[n, c, i, j] = x[n, c, rows[n, i], cols[n, j]], times `keep_rows` (N, 1, Ho, 1)
    and `keep_cols` (N, 1, 1, Wo) (0/1, or None: all 1): whole rows, then whole columns,
    exact copies."""
    out = gather_cols(F, gather_rows(F, x, rows), cols)
    if keep_rows is None:
        return out
    return times_plane(F, out, keep_rows * keep_cols, channels)


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


def taps(F, x, axis, coords, keep=None, whole=False):
    """(N, 4, K) taps of (N, 1, K, 1) or (N, 1, 1, K) float32 source `coords` along
    `x`'s `axis` (2: rows, 3: columns) for the fused resampling (``native``): the first
    and second source index and their weights. `whole`: integer coordinates inside the
    image, one tap of weight `keep` (or 1); else bilinear, w(d) = max(0, 1 - |d|) and 0
    outside the image (``resample``'s weights), times `keep` (0/1). One kernel call
    (``gluon_aug_taps``) where MXNet's operators took about fifteen."""
    extra = [] if keep is None else [keep.astype('float32')]
    return legacy(F, 'gluon_aug_taps', coords, x, *extra, axis=axis, whole=int(whole),
                  keep=int(keep is not None))


def remap(F, x, steps, channels=None, height=None, native_kernels=False, erase=None):
    """Run a chain of geometric steps as one separable gather, or as one resampling.

    `steps`: (block, params) in the order they apply, all ``BatchIndexMap``
    (whole-pixel moves: flips, pad-and-crop) except at most one
    ``BatchResizedCrop``. Every step maps output coordinates to its input's
    (``source``/``coords``); composing them backwards from the last step gives,
    for every output pixel, where in `x` it reads. A whole-pixel step that
    reads outside its image shows 0 there (its zero fill), tracked as a 0/1
    row and column mask; before a resize, fractional coordinates outside the
    image get zero bilinear weight, which is the same zero fill.
    `channels`: the batch's C, if known (``resample``, ``times_plane``); `height`:
    its H, if known, which picks the faster way to resample (the result is the same).
    `native_kernels`: run the gather or the resampling as one fused CPU kernel
    (``native``; the same result, but for float rounding in a resampling). `erase`:
    (boxes (N, 5), value) of a ``BatchErasing`` after the chain, filled in the same
    kernel pass (whole-pixel chains with the kernels only).
    """
    crops = [k for k, (block, _) in enumerate(steps) if getattr(block, 'resizes', False)]
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
            inside_rows, inside_cols = in_range(rows, H), in_range(cols, W)
            keep_rows = inside_rows if keep_rows is None else keep_rows * inside_rows
            keep_cols = inside_cols if keep_cols is None else keep_cols * inside_cols
            # clamp, so the gather reads a real pixel (then multiplied by 0)
            rows = F.np.minimum(F.np.maximum(rows, 0), H - 1)
            cols = F.np.minimum(F.np.maximum(cols, 0), W - 1)
    if not crops:
        if native_kernels:   # one pass over the batch (``native``)
            boxes, attrs = ([erase[0]], {'erase': 1, 'value': float(erase[1])}) if erase \
                else ([], {})
            return legacy(F, 'gluon_aug_resample', x, taps(F, x, 2, rows, keep_rows, True),
                          taps(F, x, 3, cols, keep_cols, True), *boxes, **attrs)
        if erase:
            raise ValueError('remap: erase= needs the fused kernels')
        return gather_separable(F, x, rows, cols, keep_rows, keep_cols, channels)
    if erase:
        raise ValueError('remap: erase= needs a chain of whole-pixel moves')
    rows, cols = crop.coords(F, rows, cols, *crop_params)
    H, W = image_size(F, x)
    H, W = H.reshape(1, 1, 1, 1), W.reshape(1, 1, 1, 1)
    for block, params in reversed(before):
        rows, cols = block.source(F, rows, cols, H, W, *params)
    if native_kernels:
        return legacy(F, 'gluon_aug_resample', x, taps(F, x, 2, rows, keep_rows),
                      taps(F, x, 3, cols, keep_cols))
    return resample(F, x, rows, cols, channels, keep_rows, keep_cols,
                    gather_rows_first=bool(height) and height > 2 * out_h)


TRIES = 10   # rectangle draws per sample (Gluon's random_size_crop and RandomErasing)


def draw_boxes(F, x, scale, ratio, u, tall=False):
    """The rectangle draw of ``random_size_crop``/``RandomErasing``, batched.

    TRIES attempts per sample, the first that fits wins: area uniform in
    `scale` x H x W, aspect log-uniform in `ratio`, sides rounded to integers
    (width = sqrt(area x aspect), or the height if `tall`, as RandomErasing
    has it); a try fits when 1 <= side <= image side. `u`: (N, 2 TRIES) U[0, 1)
    draws, a slice of the block's one random tensor. Returns (h, w, fits) as
    (N, 1, 1, 1) tensors (h, w of the first fit; fits 1.0 or 0.0).
    """
    H, W = image_size(F, x)
    area = between(u[:, :TRIES], *scale) * H * W
    aspect = F.np.exp(between(u[:, TRIES:], math.log(ratio[0]), math.log(ratio[1])))
    long, short = F.np.round(F.np.sqrt(area * aspect)), F.np.round(F.np.sqrt(area / aspect))
    h, w = (long, short) if tall else (short, long)
    fits = ((w >= 1) * (w <= W) * (h >= 1) * (h <= H)).astype('float32')
    return first_valid(F, fits, h, w)


def draw_boxes_fused(F, x, scale, ratio, u, tall=False, whole=False, p=None):
    """``draw_boxes``, ``first_valid`` and ``offsets`` as one fused CPU kernel call
    (``native``): the same values from the same draws `u` (N, 2 TRIES [+ 1] + 2): the
    tries, [the coin of probability `p`,] the offsets. `whole`: a sample with no fit
    gets the whole image (a resized crop). Returns (N, 1, 1, 1) tensors (fits, or
    fits and coin < p; top, left, h, w)."""
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    return legacy_outputs(F, 'gluon_aug_boxes', x, u, scale_low=scale[0],
                          scale_span=scale[1] - scale[0], ratio_low=lo, ratio_span=hi - lo,
                          tall=int(tall), whole=int(whole), p=-1 if p is None else p)


def offsets(F, x, h, w, u):
    """Uniform integer (top, left) so that an h x w box lies inside the image, from
    `u`, (N, 2) U[0, 1) draws."""
    H, W = image_size(F, x)
    top = F.np.floor(u[:, :1].reshape(-1, 1, 1, 1) * (H.reshape(1, 1, 1, 1) - h + 1))
    left = F.np.floor(u[:, 1:2].reshape(-1, 1, 1, 1) * (W.reshape(1, 1, 1, 1) - w + 1))
    return top, left
