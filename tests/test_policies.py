"""The four policies: what they draw (by chi-square on seeded draws), the values
their levels map to (worked out from the papers' code by hand), and what they
do with what they drew (against the ops applied one by one, and against PIL)."""
import numpy as onp
import pytest
from PIL import Image, ImageOps
from scipy import stats

from gluon_aug.augment.policies import AugMix, AutoAugment, RandAugment, TrivialAugmentWide
from gluon_aug.augment.policies import autoaugment, augmix, ops, trivialaugment
from gluon_aug.augment.policies.base import CIFAR10_MEAN_PIXEL
from gluon_aug.augment.policies.randaugment import OPS as RA_OPS

DRAWS = 6000
IMG = onp.random.RandomState(1).randint(0, 256, (32, 32, 3)).astype(onp.uint8)


def uniform(counts):
    """p-value of the counts under a uniform distribution (chi-square)."""
    return stats.chisquare(counts).pvalue


def draws(policy, n=DRAWS, seed=0):
    rng = onp.random.RandomState(seed)
    return [policy.draw(rng) for _ in range(n)]


# -- the level -> value tables, as the papers' code computes them --------------------------

def test_autoaugment_levels_map_as_in_the_authors_code():
    v = autoaugment.level_value
    assert [v('Posterize', L) for L in (0, 3, 7, 10)] == [4, 3, 2, 0]
    assert [v('Solarize', L) for L in (0, 2, 5, 10)] == [256, 205, 128, 0]
    assert [v('Rotate', L) for L in (2, 9)] == [6, 27]
    assert [v('TranslateX', L) for L in (3, 9)] == [3, 9]
    assert v('ShearY', 8) == pytest.approx(0.24)
    assert v('Color', 0) == pytest.approx(0.1) and v('Sharpness', 10) == pytest.approx(1.9)
    assert v('Contrast', 5) == 1.0 and v('Cutout', 7) == 14   # exactly, as 0.1 + 1.8 * 5 / 10
    assert (ops.brightness(IMG, v('Brightness', 5)) == IMG).all()   # the middle level is no-op
    assert v('Invert', None) is None and v('Equalize', 5) is None


def test_trivialaugment_wide_levels_map_as_in_the_authors_code():
    v = trivialaugment.wide_value
    assert [v('Posterize', L) for L in (0, 5, 30)] == [8, 7, 2]
    assert [v('Solarize', L) for L in (0, 15, 30)] == [256, 128, 0]
    assert [v('Rotate', L) for L in (1, 30)] == [4, 135]
    assert [v('TranslateY', L) for L in (1, 15, 30)] == [1, 16, 32]
    assert v('ShearX', 30) == pytest.approx(0.99)
    assert v('Brightness', 0) == pytest.approx(0.01) and v('Color', 30) == pytest.approx(2.0)


def test_augmix_levels_map_as_in_the_authors_code():
    v = augmix.level_value
    assert [v('Rotate', L) for L in (0.1, 2.99)] == [0, 8]
    assert [v('TranslateX', L) for L in (0.5, 2.99)] == [0, 3]
    assert [v('Posterize', L) for L in (0.1, 2.4, 2.6)] == [4, 4, 3]
    assert [v('Solarize', L) for L in (0.1, 2.99)] == [254, 180]


# -- what the policies draw ------------------------------------------------------------

def test_autoaugment_draws_sub_policies_uniformly_and_fires_ops_at_their_rates():
    policy = AutoAugment()
    drawn = draws(policy)
    ks = [k for k, _ in drawn]
    assert uniform(onp.bincount(ks, minlength=25)) > 1e-4
    # sub-policy 1 (Rotate 0.7 at 2, TranslateX 0.3 at 9): both ops' rates and values
    fired = [o for k, o in drawn if k == 1]
    rotate = [v for o in fired for name, v in o if name == 'Rotate']
    shift = [v for o in fired for name, v in o if name == 'TranslateX']
    for got, p in ((len(rotate), 0.7), (len(shift), 0.3)):
        assert stats.binomtest(got, len(fired), p).pvalue > 1e-4, (got, len(fired), p)
    assert set(rotate) == {6, -6} and set(shift) == {9, -9}
    assert stats.binomtest(sum(v > 0 for v in rotate), len(rotate)).pvalue > 1e-4
    # an op at probability 0 never fires (sub-policy 14: Invert 0.0)
    assert not any(name == 'Invert' for k, o in drawn if k == 14 for name, _ in o)
    # the colour ops take no sign
    assert all(v > 0 for _, o in drawn for name, v in o if name in ('Color', 'Brightness'))


def test_randaugment_draws_n_ops_uniformly_at_magnitude_m():
    drawn = draws(RandAugment(num_ops=3, magnitude=7))
    assert all(len(o) == 3 for o in drawn)
    names = [name for o in drawn for name, _ in o]
    assert uniform([names.count(op) for op in RA_OPS]) > 1e-4
    for o in drawn[:500]:
        for name, value in o:
            expected = autoaugment.level_value(name, 7)
            assert value == expected or (name in ops.GEOMETRIC and value == -expected)


def test_trivialaugment_draws_one_op_and_one_strength_uniformly():
    drawn = draws(TrivialAugmentWide(), n=9000)
    names = [op for op, _, _ in drawn]
    levels = [level for _, level, _ in drawn]
    assert uniform([names.count(op) for op in RA_OPS]) > 1e-4
    assert uniform(onp.bincount(levels, minlength=31)) > 1e-4 and max(levels) == 30
    rotations = [v for op, _, v in drawn if op == 'Rotate' and v != 0]
    assert stats.binomtest(sum(v > 0 for v in rotations), len(rotations)).pvalue > 1e-4
    for op, level, value in drawn[:500]:
        assert abs(value) == trivialaugment.wide_value(op, level) if value is not None else True


def test_augmix_draws_depths_ops_levels_and_weights_as_the_paper():
    drawn = draws(AugMix(), n=3000)
    chains = [c for _, _, cs in drawn for c in cs]
    assert all(len(cs) == 3 for _, _, cs in drawn)
    assert uniform(onp.bincount([len(c) for c in chains])[1:]) > 1e-4
    assert {len(c) for c in chains} == {1, 2, 3}
    names = [name for c in chains for name, _ in c]
    assert uniform([names.count(op) for op in augmix.OPS]) > 1e-4
    # solarize's threshold 256 - int(25.6 l), l ~ U[0.1, 3): its level, recovered, is uniform
    thresholds = [v for c in chains for name, v in c if name == 'Solarize']
    assert max(thresholds) == 254 and min(thresholds) == 180   # levels from 0.1 up to 3
    weights = onp.array([w for w, _, _ in drawn])
    ms = onp.array([m for _, m, _ in drawn])
    assert onp.allclose(weights.sum(axis=1), 1, atol=1e-6)
    # Dirichlet(1, 1, 1): each weight ~ Beta(1, 2); m ~ Beta(1, 1) = U(0, 1)
    assert stats.kstest(weights[:, 0], stats.beta(1, 2).cdf).pvalue > 1e-4
    assert stats.kstest(ms, 'uniform').pvalue > 1e-4


def test_augmix_fixed_depth_and_width():
    drawn = draws(AugMix(width=2, depth=2), n=50)
    assert all(len(cs) == 2 and all(len(c) == 2 for c in cs) for _, _, cs in drawn)


@pytest.mark.parametrize('make, message', [
    (lambda: RandAugment(num_ops=-1), 'num_ops must be an integer >= 0'),
    (lambda: RandAugment(magnitude=11), r'magnitude must be in \[0, 10\]'),
    (lambda: AugMix(depth=0), 'depth must be -1'),
    (lambda: AugMix(width=0), 'width must be an integer >= 1'),
    (lambda: AugMix(alpha=0), 'alpha must be > 0'),
])
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# -- what they do with what they drew ---------------------------------------------------

def test_autoaugment_fills_with_the_mean_and_resamples_nearest():
    out = AutoAugment().augment(IMG, (3, [('TranslateX', 9)]))
    assert (out[:, -9:] == CIFAR10_MEAN_PIXEL).all()
    assert (out[:, :-9] == IMG[:, 9:]).all()
    ours = AutoAugment().augment(IMG, (3, [('Solarize', 77), ('Posterize', 2)]))
    theirs = ImageOps.posterize(ImageOps.solarize(Image.fromarray(IMG), 77), 2)
    assert (ours == onp.asarray(theirs)).all()


def test_trivialaugment_fills_black():
    out = TrivialAugmentWide().augment(IMG, ('TranslateY', 9, -5))
    assert (out[:5] == 0).all() and (out[5:] == IMG[:-5]).all()


def test_augmix_mixes_its_chains_with_the_original_in_float():
    weights, m = onp.float32([0.2, 0.5, 0.3]), onp.float32(0.6)
    chains = [[('Solarize', 200)], [('TranslateX', 3), ('Equalize', None)], [('Rotate', -7)]]
    out = AugMix().augment(IMG, (weights, m, chains))
    pil = Image.fromarray(IMG)
    branches = [ImageOps.solarize(pil, 200),
                ImageOps.equalize(pil.transform(pil.size, Image.AFFINE, (1, 0, 3, 0, 1, 0),
                                                resample=Image.BILINEAR)),
                pil.rotate(-7, resample=Image.BILINEAR)]
    mix = sum(float(w) * onp.asarray(b, onp.float64) for w, b in zip(weights, branches))
    expected = (1 - float(m)) * IMG + float(m) * mix
    assert out.dtype == onp.float32 and out.shape == IMG.shape
    # bilinear may differ from PIL's by one level in a branch (test_policy_ops)
    assert onp.abs(out - expected).max() <= 1.0
    assert onp.abs(out - onp.round(out)).max() > 0.01   # not rounded back to uint8


@pytest.mark.parametrize('policy', [AutoAugment(), RandAugment(), TrivialAugmentWide(), AugMix()],
                         ids=['autoaugment', 'randaugment', 'trivialaugment', 'augmix'])
def test_forward_is_augment_of_draw_from_numpys_global_generator(policy):
    from gluon_aug._mxnet import np
    onp.random.seed(5)
    expected = policy.augment(IMG, policy.draw())
    onp.random.seed(5)
    out = policy(np.array(IMG))
    assert (out.asnumpy() == expected).all()
    with pytest.raises(ValueError, match='expects an HWC uint8 image'):
        policy(np.array(IMG.astype(onp.float32)))


@pytest.mark.parametrize('name', ['autoaugment', 'randaugment', 'trivialaugment', 'augmix'])
def test_policy_presets_repeat_per_seed_in_worker_processes(name, cifar_dir):
    """In ``transform_first`` under the seeded loader: the same batches with 0 or 2
    worker processes, others under another seed."""
    from gluon_aug.augment.presets import get_preset
    from gluon_aug.data.loaders import cifar_loader

    def first_batches(seed, workers):
        loader = cifar_loader(True, get_preset(name), 8, cifar_dir[0], seed=seed,
                              num_workers=workers, timeout=60)
        return [x.asnumpy() for x, _ in loader][:3]
    a, b, c = first_batches(3, 0), first_batches(3, 2), first_batches(4, 0)
    assert all((x == y).all() for x, y in zip(a, b))
    assert not all((x == y).all() for x, y in zip(a, c))
    assert all(x.dtype == onp.float32 and x.shape == (8, 3, 32, 32) for x in a)
