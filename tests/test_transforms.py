import numpy as onp
import pytest

from gluon_aug._mxnet import np
from gluon_aug.augment.transforms import RandomErasing, RandomPadCrop


def _marker_image():
    img = onp.zeros((32, 32, 3), dtype=onp.uint8)
    img[16, 16] = 255  # one bright pixel shows where the image moved
    return np.array(img)


def test_pad_crop_is_a_zero_filled_translation_uniform_over_9_by_9_offsets():
    onp.random.seed(0)
    aug = RandomPadCrop(pad=4)
    img = _marker_image()
    counts = onp.zeros((9, 9))
    base = img.asnumpy()
    for _ in range(1800):
        out = aug(img).asnumpy()
        assert out.shape == (32, 32, 3) and out.dtype == onp.uint8
        ys, xs = onp.nonzero(out[:, :, 0])
        dy, dx = ys[0] - 16, xs[0] - 16
        assert -4 <= dy <= 4 and -4 <= dx <= 4
        # exact: shifting the original by (dy, dx) with zero fill gives the output
        expected = onp.zeros_like(base)
        expected[max(dy, 0):32 + min(dy, 0), max(dx, 0):32 + min(dx, 0)] = \
            base[max(-dy, 0):32 - max(dy, 0), max(-dx, 0):32 - max(dx, 0)]
        assert (out == expected).all()
        counts[dy + 4, dx + 4] += 1
    # 81 offsets, expected 22.2 each: a chi-square test at a generous threshold
    chi2 = ((counts - 1800 / 81) ** 2 / (1800 / 81)).sum()
    assert chi2 < 130, chi2  # 80 degrees of freedom: p < 0.001 beyond ~124
    assert counts.min() > 0


def test_pad_crop_with_zero_pad_is_identity():
    img = _marker_image()
    assert (RandomPadCrop(pad=0)(img) == img).all()


def test_erasing_with_p0_is_identity_and_p1_erases_one_rectangle_of_allowed_size():
    x = np.ones((3, 32, 32))
    assert (RandomErasing(p=0.0)(x) == x).all()
    onp.random.seed(1)
    aug = RandomErasing(p=1.0, scale=(0.02, 0.4), ratio=(0.3, 1 / 0.3))
    for _ in range(200):
        out = aug(x).asnumpy()
        zero = out[0] == 0
        assert (zero == (out[1] == 0)).all() and (zero == (out[2] == 0)).all()
        ys, xs = onp.nonzero(zero)
        assert ys.size, 'p=1 must erase'
        h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        assert zero.sum() == h * w  # one solid rectangle
        assert 0.02 * 1024 * 0.7 <= h * w <= 0.4 * 1024 * 1.3  # rounding of the sides
    assert (x == 1).all()  # the input is not modified in place


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match='pad'):
        RandomPadCrop(pad=-1)
    with pytest.raises(ValueError, match='p must be'):
        RandomErasing(p=2)
    with pytest.raises(ValueError, match='expects an HWC image'):
        RandomPadCrop()(np.zeros((2, 32, 32, 3)))
