import itertools

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


# -- RandomColorJitter: Gluon's draws and computation, without the hue crash ------------

def _gluon_steps(x, steps):
    """What MXNet's fused random_color_jitter computes for a given order and given
    factors: it calls AdjustBrightness/Contrast/Saturation/HueImpl in its drawn
    order (src/operator/image/image_random-inl.h, RandomColorJitter), the same
    functions Gluon's single-adjustment ops call, here at fixed factors."""
    from gluon_aug._mxnet import npx
    ops = (npx.image.random_brightness, npx.image.random_contrast,
           npx.image.random_saturation, npx.image.random_hue)
    for k, factor in steps:
        x = ops[k](x, factor, factor)
    return x


def _photo_like(seed=0):
    from gluon_aug._mxnet import np
    return np.array(onp.random.RandomState(seed).randint(0, 256, (32, 32, 3)).astype('uint8'))


@pytest.mark.parametrize('order', list(itertools.permutations(range(4))))
def test_jitter_equals_gluons_computation_for_every_order_at_fixed_factors(order, monkeypatch):
    from gluon_aug.augment.transforms import RandomColorJitter
    factors = {0: 1.3, 1: 0.7, 2: 1.4, 3: 0.2}   # hue >= 0: the fused op is safe there
    steps = [(k, factors[k]) for k in order]
    jitter = RandomColorJitter(0.5, 0.5, 0.5, 0.5)
    monkeypatch.setattr(jitter, 'draw', lambda: steps)
    x = _photo_like()
    onp.testing.assert_array_equal(jitter(x).asnumpy(), _gluon_steps(x, steps).asnumpy())


@pytest.mark.parametrize('shift', [-0.45, -0.2, -0.01])
def test_a_negative_hue_shift_is_the_same_rotation_one_turn_on(shift, monkeypatch):
    """Where the fused op would compute (and can crash on) a negative hue, the
    jitter turns by 1 + shift: equal, up to one level of rounding, to turning
    by 2 + shift, another safe form of the same rotation."""
    from gluon_aug.augment.transforms import RandomColorJitter
    jitter = RandomColorJitter(0, 0, 0, 0.5)
    monkeypatch.setattr(jitter, 'draw', lambda: [(3, shift)])
    x = _photo_like(1)
    ours = jitter(x).asnumpy().astype(int)
    again = _gluon_steps(x, [(3, 2 + shift)]).asnumpy().astype(int)
    assert abs(ours - again).max() <= 1 and (ours != again).mean() < 0.02
    assert (ours != x.asnumpy()).mean() > 0.5   # it did turn


def test_jitter_draws_every_order_uniformly_and_gluons_factor_ranges():
    from scipy import stats
    from gluon_aug import seed_everything
    from gluon_aug.augment.transforms import RandomColorJitter
    seed_everything(3)
    jitter = RandomColorJitter(0.4, 0.3, 0.2, 0.1)
    draws = [jitter.draw() for _ in range(4800)]
    orders = [tuple(k for k, _ in d) for d in draws]
    counts = [orders.count(p) for p in itertools.permutations(range(4))]
    assert min(counts) > 0 and stats.chisquare(counts).pvalue > 1e-4
    factors = {k: onp.array([f for d in draws for kk, f in d if kk == k]) for k in range(4)}
    for k, (low, high) in enumerate([(0.6, 1.4), (0.7, 1.3), (0.8, 1.2), (-0.1, 0.1)]):
        assert low <= factors[k].min() and factors[k].max() <= high
        assert stats.kstest((factors[k] - low) / (high - low), 'uniform').pvalue > 1e-4
    # a zero amount is skipped, as the fused op skips it
    assert [k for k, _ in RandomColorJitter(0.5, 0, 0, 0).draw()] == [0]
