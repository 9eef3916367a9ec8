"""Batched twins of the policies' image ops (``augment/policies/ops.py``).

Each works on an NCHW float batch in [0, 1] on its device, with one value
per sample as an (N, 1, 1, 1) tensor, and computes for every image what the
per-sample op computes on it as uint8 (x 255): the geometric ops as one
affine resampling (every sample its own matrix, PIL's pixel-centre
convention, nearest or bilinear, a fill outside), posterize, solarize and
invert exactly on the 256 levels, autocontrast in float32 (PIL's float64
truncation may land one level apart; nearest rotation may take the neighbouring
pixel where a source point falls on a pixel edge, as at +-45 and +-135 degrees
on 32x32 images, float32 against PIL's fixed point), the colour blends exactly (PIL's float32
arithmetic on the levels, truncated, so that an op after them sees the same levels),
equalize exactly (a binary search per level in each sorted channel). `F` is the
namespace holding ``np``/``npx``, as in ``hybrid_forward``. ``OPS`` names
them as the papers do; each takes (F, x, value) and ignores a value it has no use for.
"""
from .geometry import gather, image_size, in_range

LEVELS = 255.0
SEARCH_STEPS = 25   # binary-search steps: enough for images of up to 2 ** 24 pixels


def fill_like(F, x, fill):
    """(1, C, 1, 1) tensor of `fill` (levels 0-255; one number, or one per channel) in [0, 1]."""
    values = fill if isinstance(fill, (tuple, list)) else (fill,) * 3
    c = F.npx.arange_like(x, axis=1).reshape(1, -1, 1, 1)
    out = F.np.zeros_like(c)
    for k, v in enumerate(values):
        out = out + (c == k).astype('float32') * (v / LEVELS)
    return out


def affine(F, x, matrix, fill=0, bilinear=False):
    """Output pixel (i, j) of sample n reads sample n at (a X + b Y + c, d X + e Y + f),
    X, Y = j + 0.5, i + 0.5; `matrix`: six (N, 1, 1, 1) tensors a..f."""
    a, b, c, d, e, f = matrix
    H, W = (v.reshape(1, 1, 1, 1) for v in image_size(F, x))
    X = F.npx.arange_like(x, axis=3).reshape(1, 1, 1, -1) + 0.5
    Y = F.npx.arange_like(x, axis=2).reshape(1, 1, -1, 1) + 0.5
    xs, ys = a * X + b * Y + c, d * X + e * Y + f                 # (N, 1, H, W)
    inside = (in_range(xs, W) * in_range(ys, H)).astype('float32')

    def clamp(v, size):
        return F.np.minimum(F.np.maximum(v, 0), size - 1)
    if not bilinear:
        out = gather(F, x, clamp(F.np.floor(ys), H), clamp(F.np.floor(xs), W))
    else:
        xs, ys = xs - 0.5, ys - 0.5
        x0, y0 = F.np.floor(xs), F.np.floor(ys)
        dx, dy = xs - x0, ys - y0
        x1, y1, x0, y0 = clamp(x0 + 1, W), clamp(y0 + 1, H), clamp(x0, W), clamp(y0, H)
        v = levels(F, x)   # on the levels, truncated to one, as PIL (and ops.affine)
        top = gather(F, v, y0, x0) + (gather(F, v, y0, x1) - gather(F, v, y0, x0)) * dx
        bottom = gather(F, v, y1, x0) + (gather(F, v, y1, x1) - gather(F, v, y1, x0)) * dx
        out = F.np.floor(top + (bottom - top) * dy) / LEVELS
    return out * inside + fill_like(F, x, fill) * (1 - inside)


def geometry_matrix(F, x, shear_x, shear_y, shift_x, shift_y, degrees):
    """The affine matrix of one geometric op per sample, as ``ops`` defines them
    (shear, translate, PIL's rotation about the centre): pass 0 for the other four
    values of a sample, which then leave the identity."""
    H, W = (v.reshape(1, 1, 1, 1) for v in image_size(F, x))
    theta = degrees * (-3.141592653589793 / 180)
    cos, sin = F.np.cos(theta), F.np.sin(theta)
    cx, cy = W / 2, H / 2
    return (cos, sin + shear_x, cos * -cx + sin * -cy + cx + shift_x,
            -sin + shear_y, cos, -sin * -cx + cos * -cy + cy + shift_y)


def blend(F, degenerate, x, factor):
    """PIL's ``Image.blend`` on the levels, as ``ops.blend``: degenerate + factor
    (v - degenerate) in float32 on integer levels, clipped to [0, 255] and truncated."""
    return F.np.floor(F.np.clip(degenerate + factor * (levels(F, x) - degenerate), 0,
                                LEVELS)) / LEVELS


def gray_levels(F, x):
    """PIL's RGB -> L on the levels: (19595 R + 38470 G + 7471 B + 2**15) >> 16, (N, 1, H, W)."""
    v = levels(F, x)
    return F.np.floor((v[:, 0:1] * 19595 + v[:, 1:2] * 38470 + v[:, 2:3] * 7471) / 65536 + 0.5)


def brightness(F, x, factor):
    return blend(F, 0, x, factor)


def color(F, x, factor):
    return blend(F, gray_levels(F, x), x, factor)


def contrast(F, x, factor):
    mean = F.np.floor(gray_levels(F, x).mean(axis=(1, 2, 3), keepdims=True) + 0.5)
    return blend(F, mean, x, factor)


def sharpness(F, x, factor):
    """Blend with PIL's SMOOTH filter ([[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13, rounded)
    inside the one-pixel border, which keeps its values."""
    H, W = (v.reshape(1, 1, 1, 1) for v in image_size(F, x))
    v = levels(F, x)
    padded = F.np.pad(v, ((0, 0), (0, 0), (1, 1), (1, 1)))
    total = 4 * v
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            total = total + padded[:, :, 1 + dy:(dy - 1) or None, 1 + dx:(dx - 1) or None]
    r = F.npx.arange_like(x, axis=2).reshape(1, 1, -1, 1)
    c = F.npx.arange_like(x, axis=3).reshape(1, 1, 1, -1)
    interior = ((r >= 1) * (r < H - 1) * (c >= 1) * (c < W - 1)).astype('float32')
    smooth = F.np.floor(total / 13 + 0.5) * interior + v * (1 - interior)
    return blend(F, smooth, x, factor)


def levels(F, x):
    """The batch as the integer levels 0-255 it came from (ToTensor of uint8)."""
    return F.np.round(x * LEVELS)


def posterize(F, x, bits):
    """Keep the top `bits` of each level."""
    step = 2 ** (8 - bits)
    return F.np.floor(levels(F, x) / step) * step / LEVELS


def solarize(F, x, threshold):
    """Invert the levels at or above `threshold`."""
    v = levels(F, x)
    above = (v >= threshold).astype('float32')
    return (v + above * (LEVELS - 2 * v)) / LEVELS


def autocontrast(F, x, _=None):
    """Each channel stretched from its lowest to its highest level to 0..255,
    truncated; a flat channel unchanged."""
    v = levels(F, x)
    lo = v.min(axis=(2, 3), keepdims=True)
    hi = v.max(axis=(2, 3), keepdims=True)
    flat = (hi <= lo).astype('float32')
    scale = LEVELS / F.np.maximum(hi - lo, 1)
    stretched = F.np.floor(F.np.clip(v * scale - lo * scale, 0, LEVELS))
    return (stretched * (1 - flat) + v * flat) / LEVELS


def invert(F, x, _=None):
    return 1 - x


def equalize(F, x, _=None):
    """PIL's ``ImageOps.equalize``, per image and channel: with `step` = (pixels -
    count of the highest level) // 255, level v becomes (step // 2 + pixels below v)
    // step, at most 255; a channel with step 0 (one level, or nearly) is kept.
    The pixels below each of the 256 levels come from a binary search in the
    sorted channel, so every shape is known before the graph runs (a histogram's
    ``bincount`` is not)."""
    v = levels(F, x)
    H, W = image_size(F, x)
    size = (H * W).reshape(1, 1, 1)
    flat = F.npx.reshape(v, (-2, -2, -1))                              # (N, C, H W)
    ordered = F.np.sort(flat, axis=-1)
    # 0..255 on the batch's device (F.np.arange would make it on the default one)
    level = F.npx.arange_like(F.np.tile(F.np.zeros_like(ordered[:1, :1, :1]), (1, 1, 256)),
                              axis=-1)                                 # (1, 1, 256)
    low = F.np.zeros_like(ordered[:, :, :1]) + level * 0               # (N, C, 256)
    high = low + size
    for _ in range(SEARCH_STEPS):   # the first position holding a level >= each level
        mid = F.np.floor((low + high) / 2)
        active = (low < high).astype('float32')
        below = (take_along_last(F, ordered, F.np.minimum(mid, size - 1)) < level) * active
        low = low + below * (mid + 1 - low)
        high = high + (active - below) * (mid - high)
    under = low                                                        # pixels under each level
    top = take_along_last(F, under, ordered[:, :, -1:])                # under the highest one
    step = F.np.floor(top / LEVELS)
    kept = (step == 0).astype('float32')
    safe = step + kept                                                 # no division by 0
    lut = F.np.minimum(F.np.floor((F.np.floor(safe / 2) + under) / safe), LEVELS)
    lut = lut * (1 - kept) + level * kept                              # (N, C, 256)
    return F.npx.reshape_like(take_along_last(F, lut, flat), v) / LEVELS


def take_along_last(F, table, index):
    """out[n, c, k] = table[n, c, index[n, c, k]] for (N, C, T) `table` and (N, C, K)
    integer-valued float `index` (one ``take`` over the flattened table; int32 indices,
    exact for tables of up to 2 ** 31 values)."""
    T = (F.npx.arange_like(table, axis=-1)[-1:] + 1).astype('int32').reshape(1, 1, 1)
    C = (F.npx.arange_like(table, axis=1)[-1:] + 1).astype('int32').reshape(1, 1, 1)
    n = F.npx.arange_like(table, axis=0).astype('int32').reshape(-1, 1, 1)
    c = F.npx.arange_like(table, axis=1).astype('int32').reshape(1, -1, 1)
    flat = (n * C + c) * T + index.astype('int32')
    return F.take(table.reshape(-1).as_nd_ndarray(), flat.as_nd_ndarray()).as_np_ndarray()


def cutout(F, x, cy, cx, size, fill=0):
    """A square from (cy - size//2, cx - size//2) to (cy + size//2, cx + size//2),
    exclusive, set to `fill`, per sample (clipped at the borders)."""
    half = F.np.floor(size / 2)
    r = F.npx.arange_like(x, axis=2).reshape(1, 1, -1, 1)
    c = F.npx.arange_like(x, axis=3).reshape(1, 1, 1, -1)
    box = ((r >= cy - half) * (r < cy + half) * (c >= cx - half) * (c < cx + half)).astype('float32')
    return x * (1 - box) + fill_like(F, x, fill) * box


def identity(F, x, _=None):
    return x


# name -> its number in the fused kernel ``gluon_aug_policy_stage`` (kernels.cc's PolicyOp),
# which runs each sample's op on its image only; 'Identity' is a copy, or the affine
# resampling with the identity matrix in a stage that holds geometric ops (as here)
COPY, AFFINE = 0, 1
KERNEL_OPS = {'Identity': COPY, 'Color': 2, 'Contrast': 3, 'Brightness': 4, 'Sharpness': 5,
              'Posterize': 6, 'Solarize': 7, 'Equalize': 8, 'AutoContrast': 9, 'Invert': 10}

# name (as the papers and ``policies.ops.OPS`` write it) -> twin (F, x, value); the
# geometric ops are ``affine`` with ``geometry_matrix``, Cutout is ``cutout``
OPS = {'Identity': identity, 'Color': color, 'Contrast': contrast, 'Brightness': brightness,
       'Sharpness': sharpness, 'Posterize': posterize, 'Solarize': solarize,
       'Equalize': equalize, 'AutoContrast': autocontrast, 'Invert': invert}
