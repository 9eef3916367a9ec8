"""Batched twin of Gluon's ``RandomColorJitter``: NCHW float32 RGB in [0, 1].

The formulas are MXNet 1.9.1's (``src/operator/image/image_random-inl.h``:
``AdjustBrightnessImpl``, ``AdjustContrastImpl``, ``AdjustSaturationImpl``,
``AdjustHueImpl`` with ``RGB2HLSConvert``/``HLS2RGBConvert``,
``RandomColorJitter``), rewritten for [0, 1] floats and a batch:

- brightness a:  x * a
- contrast a:    x * a + (1 - a) * mean(gray)     (per image, gray = 0.299 R + 0.587 G + 0.114 B)
- saturation a:  x * a + (1 - a) * g              (per pixel; see below for g)
- hue t (turns): rotate the hue by 360 t degrees in the HLS hexcone, keeping
  each pixel's max and min channel (lightness and HLS saturation unchanged)

Each result is clipped to [0, 1]: the per-sample pipeline applies these ops to
uint8 images, where MXNet's ``saturate_cast`` clips after every op (it also
rounds to integers, which this float twin does not).

``RandomColorJitter(b, c, s, h)`` draws, per image, a = 1 + U(-b, b),
1 + U(-c, c), 1 + U(-s, s) and t = U(-h, h), and applies the ops whose
amount is > 0 in a uniformly random order (``std::shuffle``); so does
``BatchColorJitter``, per sample. (``RandomHue(h)`` draws t in [1 - h, 1 + h]
turns, the same rotation modulo one turn.)

MXNet 1.9.1's saturation has a bug: its gray is ``gray = input[c] * coef[c]``
inside the channel loop (``=``, not ``+=``), i.e. g = 0.114 B, not the luma.
``mxnet_saturation=True`` (default) reproduces it, so the batch backend
matches the sample one; ``False`` blends toward the luma, as intended (and as
torchvision does).
"""
from ..._mxnet import legacy
from .base import BatchAugmenter, between, uniform

LUMA = (0.299, 0.587, 0.114)


def _gray(x):
    """(N, 1, H, W) luma of an NCHW RGB batch."""
    return LUMA[0] * x[:, 0:1] + LUMA[1] * x[:, 1:2] + LUMA[2] * x[:, 2:3]


def clip01(F, v):
    """clip(v, 0, 1) as two scalar ops: faster than ``np.clip`` on (N, 1, H, W)
    slices in MXNet's CPU graphs (but slower on whole batches)."""
    return F.np.minimum(F.np.maximum(v, 0), 1)


def adjust_brightness(F, x, a):
    """x * a, clipped; `a` (N, 1, 1, 1) or scalar."""
    return F.np.clip(x * a, 0, 1)


def adjust_contrast(F, x, a):
    """Blend with each image's mean gray: x * a + (1 - a) * mean(gray), clipped."""
    mean = F.np.mean(_gray(x), axis=(1, 2, 3), keepdims=True)
    return F.np.clip(x * a + (1 - a) * mean, 0, 1)


def adjust_saturation(F, x, a, mxnet_saturation=True):
    """Blend with the per-pixel gray g: x * a + (1 - a) * g, clipped (g: module docstring)."""
    gray = LUMA[2] * x[:, 2:3] if mxnet_saturation else _gray(x)
    return F.np.clip(x * a + (1 - a) * gray, 0, 1)


def adjust_hue(F, x, t):
    """Rotate the hue by `t` turns (t * 360 degrees); max and min channel stay.

    Written for MXNet's CPU backend, where ``np.where`` and ``floor`` cost
    4-30x a multiply: branches are 0/1 blends and wrap-arounds are
    comparisons. Values stay within each pixel's [min, max], so no clip.
    """
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    vmax = F.np.maximum(F.np.maximum(r, g), b)
    vmin = F.np.minimum(F.np.minimum(r, g), b)
    diff = vmax - vmin
    d = F.np.maximum(diff, 1e-30)         # gray pixels: any hue (diff * anything = 0)
    # hue in sectors of 60 degrees: RGB2HLSConvert's cases, in the same priority
    h = (r - g) / d + 4                                       # blue is the max
    h = h + (vmax == g) * ((b - r) / d + 2 - h)               # green
    h = h + (vmax == r) * ((g - b) / d - h)                   # red: h in [-1, 5)
    turn = t - F.np.floor(t)                                  # (N, 1, 1, 1), in [0, 1)
    h = h + 6 * turn + (h < 0) * 6                            # [0, 11)
    h = h - (h >= 6) * 6                                      # [0, 6)

    def channel(n):  # HLS2RGBConvert's sector table, as one formula
        k = h + n
        k = k - (k >= 6) * 6
        return vmax - diff * clip01(F, F.np.minimum(k, 4 - k))
    return F.np.concatenate([channel(5), channel(3), channel(1)], axis=1)


def image_means(F, x):
    """(N, C, 1, 1) channel means: a matmul, ~4x faster than ``np.mean`` on MXNet's CPU."""
    flat = F.npx.reshape(x, (-5, -5))                         # (N * C, H * W)
    ones = F.np.ones_like(flat[:1]).reshape(-1, 1)
    total = F.np.matmul(flat, ones)                            # (N * C, 1)
    size = F.np.sum(ones)
    return F.npx.reshape_like(total, x[:, :, :1, :1]) / size


def blend(F, x, a, contrast, saturation, mxnet_saturation=True):
    """One jitter step with per-sample 0/1 selectors: clip(a x + (1 - a) g).

    g = mean gray (contrast), per-pixel gray (saturation), or 0 (brightness);
    `a`, `contrast`, `saturation` (N, 1, 1, 1), or None where the op is off.
    a = 1 with both selectors 0 leaves `x` unchanged. Every one of these is a
    per-sample 3x3 colour matrix and offset: one batched matmul, an offset and
    a clip, instead of a pass over the batch for every term.
    """
    a = a + F.np.zeros_like(x[:, :1, :1, :1])                          # (N, 1, 1, 1)
    k = F.npx.arange_like(x[:1, :, 0, 0], axis=1)                       # 0, 1, 2 (on x's device)
    eye = (k.reshape(1, 3, 1) == k.reshape(1, 1, 3)).astype('float32')
    matrix = F.npx.reshape(a, (-1, 1, 1)) * eye                             # a I
    if saturation is not None:   # + (1 - a) s 1 L^T: every channel reads the gray
        luma = (0, 0, LUMA[2]) if mxnet_saturation else LUMA
        row = sum(v * (k == j).astype('float32') for j, v in enumerate(luma) if v)
        matrix = matrix + F.npx.reshape((1 - a) * saturation, (-1, 1, 1)) * row.reshape(1, 1, 3)
    flat = F.npx.reshape(x, (-2, -2, -1))                                 # (N, 3, H W)
    out = F.npx.batch_dot(matrix, flat)
    if contrast is not None:
        m = image_means(F, x)
        gray_mean = LUMA[0] * m[:, 0:1] + LUMA[1] * m[:, 1:2] + LUMA[2] * m[:, 2:3]
        out = out + F.npx.reshape((1 - a) * contrast * gray_mean, (-1, 1, 1))
    return F.npx.reshape_like(F.np.clip(out, 0, 1), x)


class BatchColorJitter(BatchAugmenter):
    """Per-sample brightness, contrast, saturation and hue jitter in random order.

    Input and output (N, 3, H, W) float32 RGB in [0, 1]. Parameters as Gluon's
    ``RandomColorJitter`` (module docstring): factors 1 + U(-amount, amount),
    hue shift U(-hue, hue) turns, a uniformly random order of the enabled ops
    (amount > 0) per sample. ``draw(F, x)`` returns one (N, 1, 1, 1) tensor
    per enabled op (in the order brightness, contrast, saturation, hue) and the
    (N, m) order (a permutation of 0..m-1 per sample, indexing the enabled
    ops); ``apply(F, x, *factors, order)`` is deterministic.

    `hue_last`: the hue comes after the other ops, which run in random order,
    as ``transforms.RandomColorJitter`` (the crash-free jitter the presets
    use) does; the order then covers the other ops only.
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0, mxnet_saturation=True,
                 hue_last=False):
        super().__init__()
        self.amounts = (brightness, contrast, saturation, hue)
        self.mxnet_saturation, self.hue_last = mxnet_saturation, hue_last and hue > 0
        ops = (adjust_brightness, adjust_contrast, self._saturation, adjust_hue)
        # (op, amount, identity parameter) of the enabled ops, and their kinds (0-3)
        self.ops = [(op, amount, 0.0 if op is adjust_hue else 1.0)
                    for op, amount in zip(ops, self.amounts) if amount > 0]
        self.kinds = [k for k, amount in enumerate(self.amounts) if amount > 0]

    def _saturation(self, F, x, a):
        return adjust_saturation(F, x, a, self.mxnet_saturation)

    def draw(self, F, x):
        m = len(self.ops)
        shuffled = m - self.hue_last   # the ops whose order is drawn
        u = uniform(F, x, k=m + shuffled)   # the block's one random tensor: factors, keys
        params = [between(u[:, j:j + 1], ident - amount, ident + amount).reshape(-1, 1, 1, 1)
                  for j, (_, amount, ident) in enumerate(self.ops)]
        if not shuffled:
            return tuple(params) + (F.np.zeros_like(u),)
        return tuple(params) + (F.np.argsort(u[:, m:], axis=1),)

    def apply(self, F, x, *params):
        """Each sample's ops in its order, clipped after each, as MXNet does.

        Brightness, contrast and saturation are one formula with selectors
        (``blend``), so a stage costs one pass whichever op it runs; the
        costly hue runs once: ``m - 1`` stages for the ops ordered before it
        (idle past the sample's hue position), hue, ``m - 1`` for those after.
        """
        *factors, order = params
        m = len(self.ops)
        if not m:
            return x
        if self._native:
            return self._fused(F, x, factors, order)
        order = order.astype('float32')
        kinds = [op for op, _, _ in self.ops]
        hue = kinds.index(adjust_hue) if adjust_hue in kinds else None

        def stage(x, op):   # op: (N, 1, 1, 1) index of the enabled op to run, -1 for none
            a, contrast, saturation = 1, None, None
            for j, kind in enumerate(kinds):
                if j == hue:
                    continue
                chosen = op == j
                a = a + chosen * (factors[j] - 1)
                if kind is adjust_contrast:
                    contrast = chosen
                elif kind == self._saturation:
                    saturation = chosen
            return blend(F, x, a, contrast, saturation, self.mxnet_saturation)

        def op_at(k, run):   # order[:, k] as (N, 1, 1, 1) where `run`, else -1; k, run (N, 1)
            k = F.np.minimum(k * run, m - 1)
            op = F.npx.pick(order, k.reshape(-1), axis=1).reshape(-1, 1, 1, 1)
            return (op + 1) * run.reshape(-1, 1, 1, 1) - 1

        if hue is None or self.hue_last:
            for s in range(m - self.hue_last):
                x = stage(x, order[:, s:s + 1].reshape(-1, 1, 1, 1))
            return adjust_hue(F, x, factors[hue]) if self.hue_last else x
        at = F.np.argmax((order == hue).astype('float32'), axis=1)   # hue's stage
        at = at.astype('float32').reshape(-1, 1)
        for s in range(m - 1):   # the ops ordered before hue
            x = stage(x, op_at(at * 0 + s, at > s))
        x = adjust_hue(F, x, factors[hue])
        for s in range(m - 1):   # and after it
            x = stage(x, op_at(at + 1 + s, at + 1 + s < m))
        return x

    def _fused(self, F, x, factors, order):
        """``apply`` as one fused CPU kernel (``native``): each sample's four factors (the
        identity for an op that is off) and its ops in order, run on the image in cache."""
        z = F.np.zeros_like(x[:, :1, 0, 0])                                 # (N, 1)
        drawn = dict(zip(self.kinds, factors))
        four = F.np.concatenate([drawn[k].reshape(-1, 1) if k in drawn else
                                 z + (0.0 if k == 3 else 1.0) for k in range(4)], axis=1)
        shuffled = len(self.ops) - self.hue_last
        order = order.astype('float32')
        steps = ([sum((order == j).astype('float32') * self.kinds[j] for j in range(shuffled))]
                 if shuffled else [])
        if self.hue_last:
            steps.append(z + 3)
        return legacy(F, 'gluon_aug_color', x, four, F.np.concatenate(steps, axis=1),
                             mxnet_saturation=int(self.mxnet_saturation))

    def __repr__(self):
        b, c, s, h = self.amounts
        return (f'{type(self).__name__}(brightness={b}, contrast={c}, saturation={s}, '
                f'hue={h}' + ('' if self.mxnet_saturation else ', mxnet_saturation=False')
                + (', hue_last=True' if self.hue_last else '') + ')')
