"""The batched policies (``augment/batch/policies``) against the per-sample ones:
forced draws give the same images (up to the twins' documented level), and the
batched draws follow the per-sample policies' distributions (chi-square, KS)."""
import numpy as onp
import pytest
from scipy import stats

from gluon_aug._mxnet import mx, np
from gluon_aug.augment.batch import policies as BP
from gluon_aug.augment.batch import policy_ops as B
from gluon_aug.augment.policies import AugMix, AutoAugment, RandAugment, TrivialAugmentWide
from gluon_aug.augment.policies import autoaugment, ops, trivialaugment

N = 48
RNG = onp.random.RandomState(0)
# photo-like images: smooth gradients plus noise, so that blends and histograms are not trivial
_Y, _X = onp.mgrid[0:32, 0:32]
IMAGES = onp.stack([onp.clip(RNG.uniform(0, 255, 3) * (_X[..., None] / 31) +
                             RNG.uniform(0, 128, 3) * (_Y[..., None] / 31) +
                             RNG.normal(0, 12, (32, 32, 3)), 0, 255)
                    for _ in range(N)]).astype(onp.uint8)
IMAGES[1, :, :, 2] = 90                               # a flat channel


def batch(images=IMAGES):
    return np.array(images.transpose(0, 3, 1, 2) / 255.0, dtype='float32')


def column(values):
    return np.array(onp.asarray(values, dtype='float32').reshape(-1, 1, 1, 1))


def stage_params(twin, stages):
    """[op, value] tensors per stage from per-sample [(op, value)] lists of one length."""
    params = []
    for k in range(len(stages[0])):
        params += [column([twin.names.index(s[k][0]) for s in stages]),
                   column([s[k][1] or 0 for s in stages])]
    return params


def padded(ops_, length):
    return list(ops_) + [('Identity', None)] * (length - len(ops_))


def as_levels(out):
    return out.asnumpy().transpose(0, 2, 3, 1).astype(onp.float64) * 255


def rotates(policy, drawn):
    """Whether a per-sample draw holds a rotation."""
    if isinstance(policy, AugMix):
        return any(op == 'Rotate' for chain in drawn[2] for op, _ in chain)
    ops_ = drawn[1] if isinstance(policy, AutoAugment) else (
        [drawn[:1]] if isinstance(policy, TrivialAugmentWide) else drawn)
    return any(o[0] == 'Rotate' for o in ops_)


def forced(policy, twin, seed=1):
    """(per-sample outputs, twin outputs on the same draws, which samples rotate), the
    outputs as levels."""
    rng = onp.random.RandomState(seed)
    drawn = [policy.draw(rng) for _ in range(N)]
    want = onp.stack([policy.augment(img, d) for img, d in zip(IMAGES, drawn)]).astype(float)
    if isinstance(policy, AugMix):
        params = [np.array(onp.stack([d[0] for d in drawn])), column([d[1] for d in drawn])]
        for i in range(policy.width):
            params += stage_params(twin, [padded(d[2][i], 3) for d in drawn])
    elif isinstance(policy, AutoAugment):
        params = stage_params(twin, [padded(d[1], 2) for d in drawn])
    elif isinstance(policy, TrivialAugmentWide):
        params = stage_params(twin, [[(d[0], d[2])] for d in drawn])
    else:
        params = stage_params(twin, drawn)
    return (want, as_levels(twin.apply(mx.nd, batch(), *params)),
            onp.array([rotates(policy, d) for d in drawn]))


POLICIES = [(AutoAugment, BP.BatchAutoAugment), (RandAugment, BP.BatchRandAugment),
            (TrivialAugmentWide, BP.BatchTrivialAugmentWide), (AugMix, BP.BatchAugMix)]


@pytest.mark.parametrize('seed', [1, 2])
@pytest.mark.parametrize('policy, twin', POLICIES, ids=lambda p: p.__name__)
def test_forced_draws_give_the_per_sample_images(policy, twin, seed):
    want, got, rotated = forced(policy(), twin(), seed)
    diff = onp.abs(want - got)
    # every op is exact on the levels except autocontrast and bilinear weights (float32
    # against PIL's float64: rare pixels one level apart) and nearest rotation, where a
    # source point on a pixel edge (at +-45 degrees, say) may take the neighbour: there
    # a few pixels differ by more
    assert not rotated.all()
    assert diff[~rotated].max() < 1 + 1e-3, diff[~rotated].max()
    assert (diff[~rotated] > 0.01).mean() < 0.01, (diff[~rotated] > 0.01).mean()
    if rotated.any():
        assert (diff[rotated] > 1.01).mean() < 0.02, (diff[rotated] > 1.01).mean()


def test_the_twins_take_the_per_sample_policies_parameters():
    assert repr(BP.twin_of(RandAugment(2, 9))) == 'BatchRandAugment(num_ops=2, magnitude=9)'
    assert repr(BP.twin_of(AugMix(2, 4, 2, 0.5))) == \
        'BatchAugMix(severity=2, width=4, depth=2, alpha=0.5)'
    short = autoaugment.CIFAR10_POLICY[:3]
    assert BP.twin_of(AutoAugment(short)).table == short
    assert BP.BatchAutoAugment().fill == (125, 123, 114) and not BP.BatchAutoAugment().bilinear
    assert BP.BatchTrivialAugmentWide().fill == 0 and BP.BatchAugMix().bilinear
    with pytest.raises(ValueError, match='RandAugment: magnitude'):
        BP.BatchRandAugment(3, 11)
    with pytest.raises(ValueError, match='works on RGB batches'):
        BP.BatchTrivialAugmentWide()(np.zeros((2, 1, 4, 4)))


# -- the batched draws against the per-sample draws ------------------------------------------

DRAWS = 12000


def batched_draws(twin, n=DRAWS, seed=0):
    """The twin's parameters for n samples, as NumPy arrays."""
    mx.random.seed(seed)
    return [p.asnumpy() for p in twin.draw(mx.nd, np.zeros((n, 3, 1, 1)))]


def stages_of(twin, params):
    """Per sample, the tuple of its (op, value) stages without the Identity ones."""
    ops_ = [[twin.names[int(k)] for k in p.ravel()] for p in params[::2]]
    values = [p.ravel() for p in params[1::2]]
    return [tuple((o[i], round(float(v[i]), 4)) for o, v in zip(ops_, values)
                  if o[i] != 'Identity') for i in range(len(ops_[0]))]


def same_distribution(a, b):
    """p-value that two lists of categories come from one distribution (chi-square)."""
    keys = sorted(set(a) | set(b), key=repr)
    table = onp.array([[a.count(k) for k in keys], [b.count(k) for k in keys]])
    return stats.chi2_contingency(table).pvalue


def test_autoaugment_twin_draws_as_the_per_sample_policy():
    twin, rng = BP.BatchAutoAugment(), onp.random.RandomState(0)
    ours = stages_of(twin, batched_draws(twin))
    theirs = [tuple((o, round(float(v or 0), 4)) for o, v in AutoAugment().draw(rng)[1])
              for _ in range(DRAWS)]
    assert same_distribution([s[:1] for s in ours], [s[:1] for s in theirs]) > 1e-3
    assert same_distribution(ours, theirs) > 1e-3


def test_randaugment_twin_draws_as_the_per_sample_policy():
    twin, rng = BP.BatchRandAugment(), onp.random.RandomState(0)
    params = batched_draws(twin)
    assert len(params) == 6
    ours = stages_of(twin, params)
    theirs = [tuple((o, round(float(v or 0), 4)) for o, v in RandAugment().draw(rng)
                    if o != 'Identity') for _ in range(DRAWS)]
    drawn = [RandAugment().draw(rng) for _ in range(DRAWS)]
    for k in range(3):   # each stage: the 14 ops uniformly, each at M with its sign
        counts = onp.bincount(params[2 * k].ravel().astype(int), minlength=14)
        assert stats.chisquare(counts).pvalue > 1e-3
        stage = [(twin.names[int(o)], round(float(v), 4))
                 for o, v in zip(params[2 * k].ravel(), params[2 * k + 1].ravel())]
        assert same_distribution(stage, [(d[k][0], round(float(d[k][1] or 0), 4))
                                         for d in drawn]) > 1e-3
    assert same_distribution([s[0] for s in ours if s], [s[0] for s in theirs if s]) > 1e-3


def test_trivialaugment_twin_draws_as_the_per_sample_policy():
    twin, rng = BP.BatchTrivialAugmentWide(), onp.random.RandomState(0)
    ours = stages_of(twin, batched_draws(twin))
    theirs = []
    for _ in range(DRAWS):
        op, _, value = TrivialAugmentWide().draw(rng)
        theirs.append(() if op == 'Identity' else ((op, round(float(value or 0), 4)),))
    assert same_distribution(ours, theirs) > 1e-3
    # strengths reach both ends: the widest rotation, 135 degrees, with either sign
    assert {('Rotate', 135.0), ('Rotate', -135.0)} <= {s[0] for s in ours if s}


def test_augmix_twin_draws_depths_ops_levels_and_weights_as_the_per_sample_policy():
    for alpha in (1.0, 0.5):
        twin, rng = BP.BatchAugMix(alpha=alpha), onp.random.RandomState(0)
        params = batched_draws(twin, n=4000)
        weights, m, chains = params[0], params[1].ravel(), params[2:]
        theirs = [AugMix(alpha=alpha).draw(rng) for _ in range(4000)]
        assert onp.allclose(weights.sum(axis=1), 1, atol=1e-5)
        assert stats.ks_2samp(weights[:, 0], [t[0][0] for t in theirs]).pvalue > 1e-3
        assert stats.ks_2samp(m, [t[1] for t in theirs]).pvalue > 1e-3
    first = stages_of(twin, chains[:6])   # chain 1: its depth and its first op
    assert same_distribution([(len(s), s[0][0]) for s in first],
                             [(len(t[2][0]), t[2][0][0][0]) for t in theirs]) > 1e-3
    # levels ~ U(0.1, 3): the shear factor 0.03 level, with a random sign
    shears = [abs(v) / 0.03 for s in first for o, v in s if o == 'ShearX']
    assert stats.kstest(shears, stats.uniform(0.1, 2.9).cdf).pvalue > 1e-3
    assert 0.4 < onp.mean([v > 0 for s in first for o, v in s if o == 'ShearX']) < 0.6


@pytest.mark.parametrize('policy, twin', POLICIES, ids=lambda p: p.__name__)
def test_the_twins_repeat_per_seed_and_hybridize(policy, twin):
    block = twin()
    x = batch()
    outs = []
    for seed in (3, 3, 4):
        mx.random.seed(seed)
        outs.append(block(x).asnumpy())
    assert (outs[0] == outs[1]).all() and not (outs[0] == outs[2]).all()
    block.hybridize()
    mx.random.seed(3)
    out = block(x).asnumpy()
    assert out.shape == x.shape and onp.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1 + 1e-6
    if policy is not AugMix:   # the graph draws as the imperative block (AugMix's gamma
        assert (out == outs[0]).all()   # draws come in another order there)


def test_a_block_holding_a_policy_hybridizes_with_static_shapes():
    # every shape is known before the graph runs (equalize searches, no bincount), so a
    # policy inside someone else's block hybridizes as run_cifar hybridizes
    from gluon_aug._mxnet import nn
    from gluon_aug.augment.batch.presets import get_batch_preset
    outer = nn.HybridSequential()
    outer.add(get_batch_preset('trivialaugment', normalize=True))
    outer.hybridize(static_alloc=True, static_shape=True)
    assert outer(batch()).shape == batch().shape


def test_augmix_with_a_small_alpha_never_draws_nan():
    # float32 gammas at alpha 0.05 are exactly 0 about once in 170 draws
    weights, m = batched_draws(BP.BatchAugMix(alpha=0.05), n=50000)[:2]
    assert onp.isfinite(weights).all() and onp.isfinite(m).all()
    assert onp.allclose(weights.sum(axis=1), 1, atol=1e-5) and (m >= 0).all() and (m <= 1).all()


def test_equalize_twin_holds_more_than_two_to_the_24_values():
    images = onp.random.RandomState(5).randint(0, 256, (30000, 4, 4, 3)).astype(onp.uint8)
    out = B.equalize(mx.nd, batch(images))   # 30,000 x 3 x 256 levels: past float32's 2 ** 24
    assert (as_levels(out)[-5:].round() == onp.stack([ops.equalize(i) for i in images[-5:]])).all()
