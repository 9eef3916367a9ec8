"""The fused CPU kernels (augment/batch/kernels.cc, loaded by native.py) against the same
computation in MXNet's operators, which stay the reference: every whole-pixel move, the
bilinear resampling, erasing, colour jitter and the policies' stages, on forced and on
drawn parameters, imperative and hybridized; and the fall-back when the kernels cannot be
built."""
import os
import subprocess
import sys

import numpy as onp
import pytest

from conftest import ROOT
from gluon_aug._mxnet import mx, np
from gluon_aug.augment.batch import native
from gluon_aug.augment.batch.blocks import (BatchErasing, BatchFlipLeftRight,
                                            BatchFlipTopBottom, BatchPadCrop, BatchResizedCrop)
from gluon_aug.augment.batch.color import BatchColorJitter
from gluon_aug.augment.batch.geometry import remap
from gluon_aug.augment.batch.policies import (BatchAugMix, BatchAutoAugment, BatchRandAugment,
                                              BatchTrivialAugmentWide)
from gluon_aug.augment.batch.presets import BATCH_PRESETS, get_batch_preset

F = mx.nd

pytestmark = pytest.mark.skipif(not native.available(),
                                reason=f"the fused kernels could not be built here "
                                       f"({native._loaded.get('why')}); MXNet's operators run")


def batch(n=5, c=3, h=11, w=13, seed=0):
    return np.array(onp.random.RandomState(seed).uniform(size=(n, c, h, w)).astype('float32'))


def col(values):
    return np.array(onp.asarray(values, dtype='float32').reshape(-1, 1, 1, 1))


def both(block, x, *params, method='apply'):
    """block.apply (or another `method`) on forced `params` with MXNet's operators,
    then with the kernels."""
    block._native = False
    reference = getattr(block, method)(F, x, *params).asnumpy()
    block._native = True
    return reference, getattr(block, method)(F, x, *params).asnumpy()


MOVES = {   # name -> (block, forced parameters for 5 samples)
    'lr': (BatchFlipLeftRight(), (col([1, 0, 1, 1, 0]) > 0,)),
    'tb': (BatchFlipTopBottom(), (col([0, 1, 1, 0, 1]) > 0,)),
    'crop': (BatchPadCrop(pad=3), (col([0, 6, 3, 5, 1]), col([6, 0, 2, 3, 4]))),
    'reflect': (BatchPadCrop(pad=2, reflect=True), (col([0, 4, 1, 3, 2]), col([4, 0, 2, 2, 1]))),
}


@pytest.mark.parametrize('name', list(MOVES))
def test_a_whole_pixel_move_is_the_same_exact_copy(name):
    x = batch()
    block, params = MOVES[name]
    reference, fused = both(block, x, *params)
    assert onp.array_equal(fused, reference)


@pytest.mark.parametrize('chain', ['crop-lr', 'lr-crop-tb', 'reflect-lr', 'crop-tb-crop'])
def test_a_chain_of_moves_is_the_same_exact_copy(chain):
    x = batch(seed=1)
    steps = [MOVES[name] for name in chain.split('-')]
    reference = remap(F, x, steps).asnumpy()
    assert onp.array_equal(remap(F, x, steps, native_kernels=True).asnumpy(), reference)


CROPS = (col([0, 2, 5, 1, 0]), col([0, 3, 1, 6, 2]), col([11, 5, 6, 9, 3]),
         col([13, 9, 4, 7, 2]))   # top, left, h, w: the whole image, a corner, thin ones


@pytest.mark.parametrize('size', [(13, 11), (5, 4), (20, 17)])
def test_a_resized_crop_resamples_as_mxnets_operators(size):
    x = batch(seed=2)
    block = BatchResizedCrop(size)
    reference, fused = both(block, x, *CROPS)
    assert fused.shape == reference.shape == (5, 3, size[1], size[0])
    onp.testing.assert_allclose(fused, reference, rtol=0, atol=2e-6)


def test_a_crop_in_a_chain_with_moves_before_and_after_it():
    x = batch(seed=3)
    crop = BatchResizedCrop((8, 6))
    steps = [MOVES['crop'], (crop, CROPS), (BatchFlipLeftRight(), (col([1, 1, 0, 1, 0]) > 0,))]
    reference = remap(F, x, steps).asnumpy()
    onp.testing.assert_allclose(remap(F, x, steps, native_kernels=True).asnumpy(), reference,
                                rtol=0, atol=2e-6)


@pytest.mark.parametrize('value', [0.0, 0.5])
def test_erasing_fills_the_same_boxes(value):
    x = batch(seed=4)
    # erase, top, left, h, w: a box in a corner, one not erased, one row, the whole image
    params = (col([1, 0, 1, 1, 1]), col([0, 2, 10, 0, 3]), col([9, 1, 0, 0, 4]),
              col([4, 3, 1, 11, 2]), col([4, 5, 13, 13, 1]))
    reference, fused = both(BatchErasing(value=value), x, *params)
    assert onp.array_equal(fused, reference)
    assert (fused == value).sum() > 0 and not onp.array_equal(fused, x.asnumpy())


BOXES = {   # the box draws, where tries fail often (small images, wide ranges) and not
    'crop': BatchResizedCrop(32, (0.08, 1.0)),
    'crop, book': BatchResizedCrop(32, (0.1, 1), (0.5, 2)),
    'erasing': BatchErasing(),
    'erasing, large': BatchErasing(p=1.0, scale=(0.3, 0.9), ratio=(0.2, 5)),
    'erasing, rare': BatchErasing(p=0.3),
}


@pytest.mark.parametrize('name', list(BOXES))
@pytest.mark.parametrize('shape', [(20000, 1, 5, 7), (20000, 1, 1, 9), (4000, 1, 36, 40),
                                   (200, 1, 224, 224)])
def test_the_box_draws_are_the_same_values_to_the_bit(name, shape):
    block = BOXES[name]
    x = np.zeros(shape)
    draws = {}
    for fused in (False, True):
        block._native = fused
        mx.random.seed(11)
        draws[fused] = [v.asnumpy() for v in block.draw(F, x)]
    assert len(draws[True]) == len(draws[False])
    for reference, kernel in zip(draws[False], draws[True]):
        assert kernel.shape == reference.shape == (shape[0], 1, 1, 1)
        assert onp.array_equal(kernel, reference)
    if isinstance(block, BatchErasing):   # some boxes fit, some do not
        assert 0 < draws[True][0].mean() < 1


def test_the_box_draws_agree_on_forced_draws_at_their_edges(monkeypatch):
    """Ties the random draws seldom hit: a side of exactly 2.5 (numpy rounds half to even),
    a coin equal to p, a box the image's size, no fit at all."""
    from gluon_aug.augment.batch import blocks
    tries = 10
    # 5x5 images, aspect 1 (ratio (1, 1)), area u x 25: u = 0.25 gives sides sqrt(6.25) = 2.5
    rows = [[0.25] + [0.0] * (2 * tries - 1) + [0.5, 0.3, 0.7],    # 2.5 -> 2; coin = p
            [0.49] + [0.0] * (2 * tries - 1) + [0.49, 0.99, 0.0],  # 3.5 -> 4; coin < p
            [0.9999] * tries + [0.0] * tries + [0.2, 0.5, 0.5],   # sides 5: the whole image
            [0.01] * tries + [0.0] * tries + [0.2, 0.5, 0.5]]     # sides 0.5 -> 0: no fit
    forced = onp.array(rows, dtype='float32')
    x = np.zeros((len(rows), 1, 5, 5))
    got = {}
    for block in (BatchErasing(p=0.5, scale=(0.0, 1.0), ratio=(1.0, 1.0)),
                  BatchResizedCrop(5, (0.0, 1.0), (1.0, 1.0))):
        erasing = isinstance(block, BatchErasing)
        u = np.array(forced if erasing else onp.delete(forced, 2 * tries, axis=1))  # no coin
        monkeypatch.setattr(blocks, 'uniform', lambda F, like, k=1, u=u: u)
        draws = {}
        for fused in (False, True):
            block._native = fused
            draws[fused] = [v.asnumpy().ravel() for v in block.draw(F, x)]
        for reference, kernel in zip(draws[False], draws[True]):
            assert onp.array_equal(kernel, reference)
        got[erasing] = draws[True]
    erase, top, left, h, w = got[True]
    assert list(erase) == [0, 1, 1, 0] and list(h) == list(w) == [2, 4, 5, 0]
    assert list(top) == [1, 1, 0, 3] and list(left) == [2, 0, 0, 3]
    top, left, h, w = got[False]   # the crop: no fit is the whole image
    assert list(h) == list(w) == [2, 4, 5, 5] and list(top) == [1, 1, 0, 0]


def reference_taps(coords, size, keep=None, whole=False):
    """The taps as MXNet's operators compute them (what geometry.taps computed before its
    kernel): the independent reference of gluon_aug_taps."""
    if whole:
        weight = np.ones_like(coords) if keep is None else keep
        parts = (coords, coords, weight, np.zeros_like(coords))
    else:
        first = np.floor(coords)
        frac = coords - first
        w0 = (1 - frac) * ((first >= 0) * (first < size))
        w1 = frac * ((first + 1 >= 0) * (first + 1 < size))
        if keep is not None:
            w0, w1 = w0 * keep, w1 * keep
        parts = (first, first + 1, w0, w1)
    return onp.concatenate([v.astype('float32').asnumpy().reshape(coords.shape[0], 1, -1)
                            for v in parts], axis=1)


@pytest.mark.parametrize('whole', [False, True])
@pytest.mark.parametrize('axis', [2, 3])
def test_the_taps_are_mxnets_to_the_bit(axis, whole):
    from gluon_aug.augment.batch.geometry import taps
    rng = onp.random.RandomState(15)
    x = batch(n=6, h=9, w=13)
    side = x.shape[axis]
    shape = (6, 1, 7, 1) if axis == 2 else (6, 1, 1, 7)
    values = rng.uniform(-2, side + 1, size=shape)
    values.flat[:6] = [-1, 0, side - 1, side - 0.5, side, -0.5]   # the edges
    coords = np.array((onp.round(values) if whole else values).astype('float32'))
    keep = np.array(rng.randint(0, 2, size=shape).astype(bool))
    for k in (None, keep):
        want = reference_taps(coords, float(side), k, whole)
        got = taps(F, x, axis, coords, k, whole).asnumpy()
        assert got.shape == want.shape == (6, 4, 7)
        assert onp.array_equal(got, want)


JITTERS = {
    'all four in random order': BatchColorJitter(0.5, 0.5, 0.5, 0.5),
    'hue last': BatchColorJitter(0.4, 0.4, 0.4, 0.1, hue_last=True),
    'luma saturation': BatchColorJitter(0, 0.3, 0.6, 0, mxnet_saturation=False),
    'hue alone, last': BatchColorJitter(0, 0, 0, 0.3, hue_last=True),
    'brightness alone': BatchColorJitter(0.8),
}


@pytest.mark.parametrize('name', list(JITTERS))
def test_colour_jitter_on_drawn_factors_and_orders(name):
    mx.random.seed(5)
    x = batch(n=16, seed=5)
    block = JITTERS[name]
    params = block.draw(F, x)
    reference, fused = both(block, x, *params)
    onp.testing.assert_allclose(fused, reference, rtol=0, atol=2e-5)
    assert not onp.allclose(fused, x.asnumpy(), atol=1e-3)   # it did change the images


@pytest.fixture
def restore_use():
    yield
    native.use(True)


# trivialaugment stands for the policies (its stage and its crop and flip after it use the
# kernels): the others take minutes hybridized with MXNet's operators
@pytest.mark.parametrize('name', [n for n in BATCH_PRESETS
                                  if n not in ('none', 'autoaugment', 'randaugment', 'augmix')])
def test_every_preset_hybridized_gives_the_same_batch_either_way(name, restore_use):
    x = batch(n=6, h=36, w=40, seed=6)
    aug = get_batch_preset(name)
    aug.hybridize(static_alloc=True, static_shape=True)
    out = {}
    for fused in (False, True, False):   # one block: it follows the switch between calls
        native.use(fused)
        mx.random.seed(7)
        out.setdefault(fused, []).append(aug(x).asnumpy())
    assert onp.array_equal(out[False][0], out[False][1])
    onp.testing.assert_allclose(out[True][0], out[False][0], rtol=0, atol=2e-5)


def test_only_cpu_batches_use_the_kernels():
    class Gpu:
        device_type = 'gpu'
    assert native.usable(mx.cpu()) and not native.usable(Gpu())


def _fallback(env, tmp_path):
    """A batched flip-color in a fresh process with `env`: (exit status, stderr, ok)."""
    code = ('import warnings, numpy as onp\n'
            'from gluon_aug._mxnet import np\n'
            'from gluon_aug.augment.batch.presets import get_batch_preset\n'
            'x = np.array(onp.random.RandomState(0).uniform(size=(2, 3, 8, 8)).astype("f"))\n'
            'aug = get_batch_preset("flip-color")\n'
            'for _ in range(2): out = aug(x)\n'
            'print("ok", out.shape)\n')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ, GLUON_AUG_CACHE=str(tmp_path), **env),
                          timeout=600)
    return done.returncode, done.stderr, 'ok (2, 3, 8, 8)' in done.stdout


@pytest.mark.parametrize('env, why', [({'GLUON_AUG_NATIVE': '0'}, None),   # asked: no warning
                                      ({'CXX': 'false'}, 'false failed')])
def test_without_the_kernels_mxnets_operators_run(env, why, tmp_path):
    status, err, ok = _fallback(env, tmp_path)
    assert status == 0 and ok, err
    warnings = [line for line in err.splitlines() if 'fused augmentation kernels are off' in line]
    assert len(warnings) == (1 if why else 0) and (why is None or why in warnings[0]), err
    assert not os.listdir(tmp_path)   # no library, and no half-built file, left in the cache


# -- the policies' stages: each sample's own op, against the masks over every op ----------

def levels_batch(n=6, h=17, w=19, seed=8):
    """Images on the 256 levels (ToTensor of uint8), the last one with a flat channel and
    only two levels in another (autocontrast's and equalize's edge cases)."""
    v = onp.random.RandomState(seed).randint(0, 256, size=(n, 3, h, w))
    v[-1, 0] = 77
    v[-1, 1] = onp.where(v[-1, 1] > 128, 200, 3)
    return np.array((v / 255.0).astype('float32'))


STAGE_VALUES = {   # op -> a value per sample (6), over its range and its edges
    'Identity': [0] * 6, 'Invert': [0] * 6, 'Equalize': [0] * 6, 'AutoContrast': [0] * 6,
    'ShearX': [-0.3, 0.3, 0.1, -0.05, 0.0, 0.25], 'ShearY': [0.3, -0.3, 0.2, 0.0, -0.1, 0.05],
    'TranslateX': [-5, 5, 2.5, 0, -1, 19], 'TranslateY': [4, -4, 0, -2.5, 1, 17],
    'Rotate': [-45, 30, 90, 135, 0, 7.5],
    'Color': [0.1, 0.5, 1, 1.5, 1.9, 0], 'Contrast': [0.1, 0.5, 1, 1.5, 1.9, 0],
    'Brightness': [0.1, 0.5, 1, 1.5, 1.9, 0], 'Sharpness': [0.1, 0.5, 1, 1.5, 1.9, 0],
    'Posterize': [1, 2, 4, 6, 8, 4], 'Solarize': [0, 64, 128, 200, 256, 255],
}

STAGE_POLICIES = {   # nearest with the CIFAR-10 mean pixel as fill; bilinear with black
    'randaugment': BatchRandAugment(), 'augmix': BatchAugMix(),
    'autoaugment': BatchAutoAugment()}


@pytest.mark.parametrize('policy, name', [(p, n) for p, block in STAGE_POLICIES.items()
                                          for n in block.names])
def test_a_policy_stage_runs_each_op_as_the_masks_do(policy, name):
    block = STAGE_POLICIES[policy]
    x = levels_batch()
    op = col([block.names.index(name)] * 6)
    reference, fused = both(block, x, op, col(STAGE_VALUES[name]), method='stage')
    assert onp.array_equal(fused, reference), \
        f"{int((fused != reference).sum())} values differ, by up to {abs(fused - reference).max()}"


def test_a_stage_gives_each_sample_its_own_op():
    block = STAGE_POLICIES['randaugment']
    x = levels_batch(n=14, seed=9)
    names = block.names
    values = [STAGE_VALUES[name][k % 6] for k, name in enumerate(names)]
    reference, fused = both(block, x, col(range(len(names))), col(values), method='stage')
    assert onp.array_equal(fused, reference)
    assert not onp.array_equal(fused[1:], x.asnumpy()[1:])   # the ops did change the images


@pytest.mark.parametrize('policy', [BatchAutoAugment, BatchRandAugment, BatchTrivialAugmentWide,
                                    BatchAugMix])
def test_a_policy_on_drawn_parameters_gives_the_same_batch_either_way(policy):
    mx.random.seed(11)
    block = policy()
    x = levels_batch(n=16, h=32, w=32, seed=10)
    reference, fused = both(block, x, *block.draw(F, x))
    assert onp.array_equal(fused, reference)


@pytest.mark.parametrize('policy', [BatchAutoAugment, BatchRandAugment, BatchTrivialAugmentWide,
                                    BatchAugMix])
def test_a_policy_draws_the_same_parameters_either_way(policy):
    # with the kernels, a draw looks its choices up in tables (gluon_aug_lookup, a gather)
    # where MXNet's operators take a mask per choice and a sum: the same float32 values
    block = policy()
    x = levels_batch(n=3000, h=2, w=2, seed=13)
    draws = {}
    for fused in (False, True):
        block._native = fused
        mx.random.seed(14)
        draws[fused] = [v.asnumpy() if hasattr(v, 'asnumpy') else v for v in block.draw(F, x)]
    assert len(draws[True]) == len(draws[False])
    for reference, kernel in zip(draws[False], draws[True]):
        assert onp.array_equal(onp.asarray(kernel), onp.asarray(reference))
    ops = onp.concatenate([onp.ravel(v) for v in draws[True][-2::-2]])
    assert len(onp.unique(ops)) > 5   # many ops drawn, not one


def test_augmix_mixes_its_chains_in_one_pass_to_the_bit():
    # AugMix's mixing as one kernel pass (gluon_aug_mix): the same float32 sums as
    # MXNet's elementwise operators, on drawn chains and weights forced to their edges
    mx.random.seed(12)
    block = BatchAugMix()
    x = levels_batch(n=6, h=16, w=16, seed=12)
    weights, m, *params = block.draw(F, x)
    weights = np.array(onp.array([[1, 0, 0], [0, 0, 1], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3],
                                  [0.7, 0.1, 0.2], [0.05, 0.9, 0.05]], dtype='float32'))
    m = col([0, 1, 0.37, 0.5, 0.99, 0.01])
    reference, fused = both(block, x, weights, m, *params)
    assert onp.array_equal(fused, reference)
    # and against NumPy's float32 arithmetic in the same order, on the chains themselves
    block._native = False
    per_chain = len(params) // block.width
    chains = [block.stages(F, x, params[i * per_chain:(i + 1) * per_chain]).asnumpy()
              for i in range(block.width)]
    w, mm, xs = weights.asnumpy(), m.asnumpy().reshape(-1, 1, 1, 1), x.asnumpy()
    mix = onp.zeros_like(xs)
    for i, chain in enumerate(chains):
        mix = mix + w[:, i].reshape(-1, 1, 1, 1) * chain
    assert onp.array_equal(fused, (onp.float32(1) - mm) * xs + mm * mix)
    assert not onp.array_equal(chains[0], chains[2])   # the chains differ: the weights matter
