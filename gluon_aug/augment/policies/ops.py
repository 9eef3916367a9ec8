"""The image operations the augmentation policies share, written once.

Every op takes an HWC uint8 NumPy image (RGB, or one channel) and returns a
new one of the same shape and dtype. They follow the definitions the
policies' papers used, which are PIL's (the AutoAugment, RandAugment,
TrivialAugment and AugMix code all call PIL): ``ImageOps`` for posterize,
solarize, equalize, autocontrast and invert, ``ImageEnhance`` for colour,
contrast, brightness and sharpness (a blend with a degenerate image,
truncated to uint8), and ``Image.transform(AFFINE)`` for the geometry (an
output pixel's centre mapped through the matrix to the input; nearest or
bilinear, `fill` outside). They are written here in NumPy so that the tests
can hold them against PIL as an independent computation.

Magnitudes are the op's own units: a shear factor, pixels, degrees, an
enhancement factor (1 = unchanged), bits kept, a threshold. Each policy maps
its magnitude levels onto these.
"""
import math

import numpy as onp

NEAREST, BILINEAR = 'nearest', 'bilinear'


# -- geometry: one affine resampling ----------------------------------------------------------

def affine(img, matrix, fill=0, resample=NEAREST):
    """PIL's ``Image.transform(size, AFFINE, matrix)``: output pixel (x, y) takes the
    input at ``(a X + b Y + c, d X + e Y + f)`` with X, Y = x + 0.5, y + 0.5 (its
    centre). Nearest takes the pixel that point falls in; bilinear weighs the four
    nearest centres (edges clamped) and truncates to a level. A point outside the image gets `fill` (a
    number, or one per channel)."""
    h, w = img.shape[:2]
    a, b, c, d, e, f = matrix
    Y, X = onp.mgrid[0:h, 0:w] + 0.5
    xs, ys = a * X + b * Y + c, d * X + e * Y + f
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    src = img.reshape(h, w, -1).astype(onp.float64)
    if resample == NEAREST:
        out = src[onp.clip(onp.floor(ys).astype(int), 0, h - 1),
                  onp.clip(onp.floor(xs).astype(int), 0, w - 1)]
    elif resample == BILINEAR:
        xs, ys = xs - 0.5, ys - 0.5
        x0, y0 = onp.floor(xs), onp.floor(ys)
        dx, dy = (xs - x0)[..., None], (ys - y0)[..., None]
        x0, y0 = x0.astype(int), y0.astype(int)
        x1, y1 = onp.clip(x0 + 1, 0, w - 1), onp.clip(y0 + 1, 0, h - 1)
        x0, y0 = onp.clip(x0, 0, w - 1), onp.clip(y0, 0, h - 1)
        top = src[y0, x0] + (src[y0, x1] - src[y0, x0]) * dx
        bottom = src[y1, x0] + (src[y1, x1] - src[y1, x0]) * dx
        out = onp.floor(top + (bottom - top) * dy)   # truncated, as PIL's (UINT8) cast
    else:
        raise ValueError(f"resample must be {NEAREST!r} or {BILINEAR!r}, got {resample!r}")
    fill = onp.broadcast_to(onp.asarray(fill, dtype=onp.float64), (src.shape[-1],))
    out = onp.where(inside[..., None], out, fill)
    return out.clip(0, 255).astype(onp.uint8).reshape(img.shape)


def shear_x(img, factor, fill=0, resample=NEAREST):
    """Shear along x: the input at (x + factor y, y), as AutoAugment's ShearX."""
    return affine(img, (1, factor, 0, 0, 1, 0), fill, resample)


def shear_y(img, factor, fill=0, resample=NEAREST):
    """Shear along y: the input at (x, y + factor x)."""
    return affine(img, (1, 0, 0, factor, 1, 0), fill, resample)


def translate_x(img, pixels, fill=0, resample=NEAREST):
    """The input at (x + pixels, y): positive moves the content left."""
    return affine(img, (1, 0, pixels, 0, 1, 0), fill, resample)


def translate_y(img, pixels, fill=0, resample=NEAREST):
    """The input at (x, y + pixels): positive moves the content up."""
    return affine(img, (1, 0, 0, 0, 1, pixels), fill, resample)


def rotation_matrix(degrees, h, w):
    """PIL's ``Image.rotate`` matrix: counter-clockwise by `degrees` about (w/2, h/2)."""
    angle = -math.radians(degrees % 360.0)
    cos, sin = round(math.cos(angle), 15), round(math.sin(angle), 15)
    cx, cy = w / 2.0, h / 2.0
    return (cos, sin, cos * -cx + sin * -cy + cx, -sin, cos, -sin * -cx + cos * -cy + cy)


def rotate(img, degrees, fill=0, resample=NEAREST):
    """Rotate counter-clockwise by `degrees` about the centre, as ``Image.rotate``."""
    return affine(img, rotation_matrix(degrees, *img.shape[:2]), fill, resample)


# -- colour: blends with a degenerate image (ImageEnhance) --------------------------------------

def blend(degenerate, img, factor):
    """``Image.blend(degenerate, img, factor)``: degenerate + factor (img - degenerate)
    in float32 (PIL's alpha is a C float), clipped to [0, 255] and truncated."""
    d, i = degenerate.astype(onp.float32), img.astype(onp.float32)
    return onp.clip(d + onp.float32(factor) * (i - d), 0, 255).astype(onp.uint8)


def grayscale(img):
    """PIL's RGB -> L: (19595 R + 38470 G + 7471 B + 2**15) >> 16, as int (H, W)."""
    if img.shape[-1] == 1:
        return img[..., 0].astype(onp.int64)
    r, g, b = (img[..., k].astype(onp.int64) for k in range(3))
    return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16


def color(img, factor):
    """Saturation (``ImageEnhance.Color``): blend with the image's grayscale."""
    gray = onp.repeat(grayscale(img)[..., None], img.shape[-1], axis=-1)
    return blend(gray, img, factor)


def contrast(img, factor):
    """``ImageEnhance.Contrast``: blend with a flat image at the grayscale's mean, rounded."""
    mean = int(grayscale(img).mean() + 0.5)
    return blend(onp.full_like(img, mean), img, factor)


def brightness(img, factor):
    """``ImageEnhance.Brightness``: blend with black, i.e. img * factor."""
    return blend(onp.zeros_like(img), img, factor)


def smooth(img):
    """PIL's ``ImageFilter.SMOOTH`` (3x3 kernel [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13,
    rounded) inside the image; the one-pixel border keeps its values."""
    out = img.copy()
    if min(img.shape[:2]) < 3:
        return out
    x = img.astype(onp.float32)
    h, w = img.shape[:2]
    total = sum(x[1 + dy:h - 1 + dy, 1 + dx:w - 1 + dx]
                for dy in (-1, 0, 1) for dx in (-1, 0, 1)) + 4 * x[1:-1, 1:-1]
    out[1:-1, 1:-1] = onp.clip(onp.floor(total / 13 + 0.5), 0, 255).astype(onp.uint8)
    return out


def sharpness(img, factor):
    """``ImageEnhance.Sharpness``: blend with the SMOOTH-filtered image."""
    return blend(smooth(img), img, factor)


# -- ImageOps: look-up tables per channel -------------------------------------------------------

def posterize(img, bits):
    """Keep the top `bits` bits of every value (0 <= bits <= 8)."""
    bits = int(bits)
    return img & onp.uint8((0xFF << (8 - bits)) & 0xFF)


def solarize(img, threshold):
    """Invert every value >= `threshold` (256 or more: unchanged)."""
    return onp.where(img >= threshold, 255 - img, img).astype(onp.uint8)


def invert(img, _=None):
    return (255 - img).astype(onp.uint8)


def per_channel(img, lut_of):
    """Apply ``lut_of(histogram)`` (a 256-entry table or None) to each channel."""
    out = img.copy()
    for k in range(img.shape[-1]):
        lut = lut_of(onp.bincount(img[..., k].ravel(), minlength=256))
        if lut is not None:
            out[..., k] = onp.clip(lut, 0, 255).astype(onp.uint8)[img[..., k]]
    return out


def _equalize_lut(hist):
    used = hist[hist > 0]
    step = (used.sum() - used[-1]) // 255 if len(used) > 1 else 0
    if not step:
        return None
    return (step // 2 + onp.concatenate([[0], onp.cumsum(hist)[:-1]])) // step


def equalize(img, _=None):
    """``ImageOps.equalize``: each channel's histogram flattened by PIL's table."""
    return per_channel(img, _equalize_lut)


def _autocontrast_lut(hist):
    used = onp.flatnonzero(hist)
    lo, hi = used[0], used[-1]
    if hi <= lo:
        return None
    scale = 255.0 / (hi - lo)
    return (onp.arange(256) * scale - lo * scale).astype(int)


def autocontrast(img, _=None):
    """``ImageOps.autocontrast`` (cutoff 0): each channel stretched from its min..max to 0..255."""
    return per_channel(img, _autocontrast_lut)


def identity(img, _=None):
    return img


def cutout(img, size, fill=0, rng=onp.random):
    """A square of `fill` from (y - size//2, x - size//2) to (y + size//2, x + size//2),
    exclusive, about a uniformly random pixel (y, x), clipped at the borders: the
    AutoAugment code's ``create_cutout_mask`` (DeVries & Taylor 2017)."""
    h, w = img.shape[:2]
    cy, cx = rng.randint(h), rng.randint(w)
    half = int(size) // 2
    out = img.copy()
    out[max(0, cy - half):min(h, cy + half), max(0, cx - half):min(w, cx + half)] = fill
    return out


# name (as the papers write it) -> op; the geometric ones and Cutout also take a fill
OPS = {'Identity': identity, 'ShearX': shear_x, 'ShearY': shear_y,
       'TranslateX': translate_x, 'TranslateY': translate_y, 'Rotate': rotate,
       'Color': color, 'Contrast': contrast, 'Brightness': brightness, 'Sharpness': sharpness,
       'Posterize': posterize, 'Solarize': solarize, 'Equalize': equalize,
       'AutoContrast': autocontrast, 'Invert': invert, 'Cutout': cutout}
GEOMETRIC = ('ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate')


def apply_op(name, img, value=None, fill=0, resample=NEAREST):
    """Op `name` at `value` (its own units), filling and resampling as given."""
    if name in GEOMETRIC:
        return OPS[name](img, value, fill, resample)
    if name == 'Cutout':
        return cutout(img, value, fill)
    return OPS[name](img, value)
