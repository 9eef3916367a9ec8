"""The policies' shared image ops against independent computations: pixels worked
out by hand, an affine matrix applied pixel by pixel in plain Python, and PIL,
whose ``ImageOps``/``ImageEnhance``/``Image.transform`` the papers' code called."""
import math

import numpy as onp
import pytest
from PIL import Image, ImageEnhance, ImageOps

from gluon_aug.augment.policies import ops

RNG = onp.random.RandomState(0)
IMAGES = [RNG.randint(0, 256, (13, 17, 3)).astype(onp.uint8),            # noise
          (onp.arange(32 * 32 * 3) % 97 + 60).reshape(32, 32, 3).astype(onp.uint8),  # narrow range
          onp.full((8, 8, 3), 77, onp.uint8)]                              # flat


def pil(img):
    return Image.fromarray(img)


def back(image):
    return onp.asarray(image)


# -- hand-computed pixels ----------------------------------------------------------------------

def test_posterize_solarize_invert_by_hand():
    img = onp.array([[[0, 127, 128], [200, 255, 13]]], onp.uint8)
    assert ops.posterize(img, 3).tolist() == [[[0, 96, 128], [192, 224, 0]]]
    assert ops.posterize(img, 8).tolist() == img.tolist()
    assert ops.posterize(img, 0).tolist() == [[[0, 0, 0], [0, 0, 0]]]
    assert ops.solarize(img, 128).tolist() == [[[0, 127, 127], [55, 0, 13]]]
    assert ops.solarize(img, 256).tolist() == img.tolist()
    assert ops.solarize(img, 0).tolist() == (255 - img).tolist()
    assert ops.invert(img).tolist() == [[[255, 128, 127], [55, 0, 242]]]


def test_autocontrast_and_equalize_by_hand():
    img = onp.array([[[10], [20]], [[30], [30]]], onp.uint8)
    # 10..30 stretched to 0..255: int(x * 12.75 - 127.5)
    assert ops.autocontrast(img)[..., 0].tolist() == [[0, 127], [255, 255]]
    # histogram {10: 1, 20: 1, 30: 2}: step = (4 - 2) // 255 = 0 -> unchanged
    assert ops.equalize(img).tolist() == img.tolist()


def test_brightness_and_contrast_by_hand():
    img = onp.array([[[100, 50, 200]]], onp.uint8)
    assert ops.brightness(img, 1.5).tolist() == [[[150, 75, 255]]]
    assert ops.brightness(img, 0.5).tolist() == [[[50, 25, 100]]]
    gray = (100 * 19595 + 50 * 38470 + 200 * 7471 + 0x8000) >> 16     # 82
    assert ops.contrast(img, 0).tolist() == [[[gray] * 3]]


def test_cutout_square_clipped_at_the_border():
    class At:   # a generator that draws the centre we ask for
        def __init__(self, *values):
            self.values = list(values)

        def randint(self, n):
            return self.values.pop(0)
    img = onp.full((10, 10, 3), 9, onp.uint8)
    out = ops.cutout(img, 4, fill=0, rng=At(5, 5))
    assert (out[3:7, 3:7] == 0).all() and (out == 0).sum() == 16 * 3
    out = ops.cutout(img, 4, fill=(1, 2, 3), rng=At(0, 9))
    assert out[0:2, 7:10].tolist() == [[[1, 2, 3]] * 3] * 2 and (out != 9).sum() == 6 * 3


# -- the affine resampling against the matrix applied by hand -----------------------------------

def by_hand(img, matrix, fill):
    """Nearest-neighbour affine, one output pixel at a time, straight from the definition."""
    h, w = img.shape[:2]
    a, b, c, d, e, f = matrix
    out = onp.empty_like(img)
    for y in range(h):
        for x in range(w):
            sx, sy = a * (x + .5) + b * (y + .5) + c, d * (x + .5) + e * (y + .5) + f
            ok = 0 <= sx < w and 0 <= sy < h
            out[y, x] = img[int(math.floor(sy)), int(math.floor(sx))] if ok else fill
    return out


@pytest.mark.parametrize('op, magnitude, matrix', [
    (ops.shear_x, 0.3, (1, 0.3, 0, 0, 1, 0)), (ops.shear_y, -0.3, (1, 0, 0, -0.3, 1, 0)),
    (ops.translate_x, 5, (1, 0, 5, 0, 1, 0)), (ops.translate_y, -3, (1, 0, 0, 0, 1, -3)),
])
def test_shear_and_translate_apply_their_matrix(op, magnitude, matrix):
    img = IMAGES[0]
    assert (op(img, magnitude, fill=128) == by_hand(img, matrix, 128)).all()


def test_rotate_turns_counter_clockwise_about_the_centre():
    img = onp.zeros((9, 9, 1), onp.uint8)
    img[4, 8] = 255                          # right of the centre
    out = ops.rotate(img, 90)
    assert out[0, 4, 0] == 255 and out.sum() == 255       # now above it
    th = math.radians(30)
    cx = cy = 4.5
    # the inverse rotation, written from the geometry: output (X, Y) reads the input
    # point turned clockwise by 30 degrees about the centre (y grows downwards)
    matrix = (math.cos(th), -math.sin(th), cx - math.cos(th) * cx + math.sin(th) * cy,
              math.sin(th), math.cos(th), cy - math.sin(th) * cx - math.cos(th) * cy)
    img = IMAGES[0][:9, :9]
    assert (ops.rotate(img, 30, fill=7) == by_hand(img, matrix, 7)).all()


# -- against PIL -------------------------------------------------------------------------------

@pytest.mark.parametrize('img', IMAGES, ids=['noise', 'narrow', 'flat'])
@pytest.mark.parametrize('ours, theirs', [
    (lambda i: ops.posterize(i, 2), lambda p: ImageOps.posterize(p, 2)),
    (lambda i: ops.solarize(i, 100), lambda p: ImageOps.solarize(p, 100)),
    (ops.invert, ImageOps.invert),
    (ops.equalize, ImageOps.equalize),
    (ops.autocontrast, ImageOps.autocontrast),
], ids=['posterize', 'solarize', 'invert', 'equalize', 'autocontrast'])
def test_lookup_ops_equal_pil(img, ours, theirs):
    assert (ours(img) == back(theirs(pil(img)))).all()


@pytest.mark.parametrize('img', IMAGES, ids=['noise', 'narrow', 'flat'])
@pytest.mark.parametrize('name', ['Color', 'Contrast', 'Brightness', 'Sharpness'])
@pytest.mark.parametrize('factor', [0.1, 0.5, 1.0, 1.37, 1.9])
def test_enhance_ops_equal_pil(img, name, factor):
    ours = getattr(ops, name.lower())(img, factor)
    theirs = back(getattr(ImageEnhance, name)(pil(img)).enhance(factor))
    assert (ours == theirs).all(), onp.abs(ours.astype(int) - theirs.astype(int)).max()


@pytest.mark.parametrize('resample, pil_resample', [(ops.NEAREST, Image.NEAREST),
                                                    (ops.BILINEAR, Image.BILINEAR)])
@pytest.mark.parametrize('op, magnitude', [(ops.shear_x, 0.27), (ops.shear_y, -0.41),
                                           (ops.translate_x, 6.5), (ops.rotate, 23.0),
                                           (ops.rotate, -135.0)])
def test_geometry_equals_pil(resample, pil_resample, op, magnitude):
    img = IMAGES[1]
    fill = (128, 128, 128)
    ours = op(img, magnitude, fill=fill, resample=resample)
    p = pil(img)
    if op is ops.rotate:
        theirs = p.rotate(magnitude, resample=pil_resample, fillcolor=fill)
    else:
        matrix = {ops.shear_x: (1, magnitude, 0, 0, 1, 0),
                  ops.shear_y: (1, 0, 0, magnitude, 1, 0),
                  ops.translate_x: (1, 0, magnitude, 0, 1, 0)}[op]
        theirs = p.transform(p.size, Image.AFFINE, matrix, resample=pil_resample,
                             fillcolor=fill)
    diff = onp.abs(ours.astype(int) - back(theirs).astype(int)).max(axis=-1)
    if resample == ops.BILINEAR and op is not ops.rotate:
        assert diff.max() == 0   # PIL truncates the interpolated value, as ops does
    elif resample == ops.NEAREST:
        # PIL computes nearest-neighbour affines in 16.16 fixed point: the two may
        # disagree only where the source point lies on a pixel's edge
        a, b, c, d, e, f = ops.rotation_matrix(magnitude, 32, 32) if op is ops.rotate \
            else matrix
        Y, X = onp.mgrid[0:32, 0:32] + 0.5
        src = onp.stack([a * X + b * Y + c, d * X + e * Y + f])
        on_edge = (onp.abs(src - onp.round(src)) < 1e-3).any(axis=0)
        assert not (diff & ~on_edge).any() and (diff > 0).mean() < 0.05
    else:
        assert diff.max() <= 1, diff.max()
