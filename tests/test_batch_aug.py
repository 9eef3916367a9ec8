"""Batched on-device augmenters: exact twins with forced parameters, matching
distributions on many seeded draws, hybridized and on two contexts, and the
`--aug-backend batch` wiring end to end."""
import os

import numpy as onp
import pytest
from scipy import stats

import gluon_aug
from gluon_aug.augment.batch import color as bc
from gluon_aug.augment.batch.blocks import (BatchErasing, BatchFlipLeftRight, BatchFlipTopBottom,
                                 BatchPadCrop, BatchResizedCrop)
from gluon_aug.augment.batch.presets import BATCH_PRESETS, get_batch_preset, to_batch
from gluon_aug.run.batch_step import BatchSplit as batch_split
from gluon_aug import seed_everything
from gluon_aug._mxnet import gluon, mx, np, npx
from gluon_aug.augment.presets import CIFAR10_MEAN, CIFAR10_STD, PRESETS
from gluon_aug.augment.transforms import RandomErasing, RandomPadCrop

from conftest import make_cifar_folder, read_json, run_module

T = gluon.data.vision.transforms
F = mx.nd  # the F of hybrid_forward when imperative: F.np, F.npx


@pytest.fixture(autouse=True)
def seeded():
    """Every generator the code under test draws from: MXNet's (our batched blocks,
    Gluon's hybrid transforms), NumPy's and Python's (Gluon's RandomResizedCrop)."""
    seed_everything(7)


def col(values):
    """(N,) values -> (N, 1, 1, 1) float32 array."""
    return np.array(onp.asarray(values, dtype='float32').reshape(-1, 1, 1, 1))


def rand_batch(n=4, h=32, w=32, seed=0):
    return np.array(onp.random.RandomState(seed).uniform(size=(n, 3, h, w)).astype('float32'))


def hwc(x):
    """(C, H, W) -> (H, W, C) mx array."""
    return np.array(x.asnumpy().transpose(1, 2, 0))


def test_batch_registry_has_the_same_names_and_parameters_as_the_sample_one():
    assert list(BATCH_PRESETS) == list(PRESETS)
    for name in BATCH_PRESETS:
        assert BATCH_PRESETS[name].__doc__ == PRESETS[name].__doc__
    jitter = get_batch_preset('flip-color')[1]
    assert jitter.amounts == (0.4, 0.4, 0.4, 0.1)
    crop = get_batch_preset('resized-crop')[0]
    assert (crop.size, crop.scale, crop.ratio) == ((32, 32), (0.25, 1.0), (3 / 4, 4 / 3))
    assert get_batch_preset('flip-crop')[0].pad == 4
    erase = get_batch_preset('erasing')[1]
    assert (erase.p, erase.scale, erase.value) == (0.5, (0.02, 0.4), 0)
    # the same order of steps as the sample preset (ToTensor dropped)
    kinds = [type(b).__name__ for b in get_batch_preset('book-all', normalize=True)]
    assert kinds == ['BatchFlipLeftRight', 'BatchColorJitter', 'BatchResizedCrop',
                     'BatchNormalize']
    # the policies: the per-sample steps' twins, in the same order
    kinds = [type(b).__name__ for b in get_batch_preset('augmix')]
    assert kinds == ['BatchFlipLeftRight', 'BatchPadCrop', 'BatchAugMix']
    kinds = [type(b).__name__ for b in get_batch_preset('randaugment')]
    assert kinds == ['BatchRandAugment', 'BatchPadCrop', 'BatchFlipLeftRight']
    with pytest.raises(gluon_aug.UsageError, match='unknown augmentation preset'):
        get_batch_preset('mixup')


def test_blocks_reject_a_single_image():
    with pytest.raises(ValueError, match=r'expects an NCHW batch, got shape \(3, 8, 8\)'):
        BatchPadCrop()(np.zeros((3, 8, 8)))


def test_flip_of_a_known_batch_with_forced_and_extreme_draws():
    x = np.arange(2 * 3 * 2 * 4, dtype='float32').reshape(2, 3, 2, 4)
    out = BatchFlipLeftRight().apply(F, x, col([1, 0]) > 0)
    assert onp.array_equal(out[0].asnumpy(), x[0].asnumpy()[:, :, ::-1])
    assert onp.array_equal(out[1].asnumpy(), x[1].asnumpy())
    assert onp.array_equal(BatchFlipTopBottom(p=1)(x).asnumpy(), x.asnumpy()[:, :, ::-1])
    assert onp.array_equal(BatchFlipLeftRight(p=0)(x).asnumpy(), x.asnumpy())


@pytest.mark.parametrize('block', [BatchFlipLeftRight(p=0.3), BatchFlipTopBottom(p=0.3)])
def test_flip_rate_is_p_with_independent_draws_per_sample(block):
    n = 4000
    x = np.array(onp.tile(onp.arange(4, dtype='float32'), (n, 1, 4, 1)))  # varies along W
    if isinstance(block, BatchFlipTopBottom):
        x = np.swapaxes(x, 2, 3)
    out = block(x).asnumpy()
    flipped = (out != x.asnumpy()).any(axis=(1, 2, 3))
    assert abs(flipped.mean() - 0.3) < 4 * (0.3 * 0.7 / n) ** 0.5  # 4 sigma


def test_pad_crop_with_forced_offsets_equals_RandomPadCrop(monkeypatch):
    x = rand_batch(n=3, h=8, w=10)
    tops, lefts = [0, 4, 8], [8, 3, 0]
    out = BatchPadCrop(pad=4).apply(F, x, col(tops), col(lefts))
    for i in range(3):
        monkeypatch.setattr(onp.random, 'randint', lambda *a, **k: onp.array([tops[i], lefts[i]]))
        want = RandomPadCrop(pad=4)(hwc(x[i])).asnumpy().transpose(2, 0, 1)
        assert onp.array_equal(out[i].asnumpy(), want)  # exact: shifts with zero fill


def test_pad_crop_offsets_are_uniform_over_the_allowed_range():
    n, h, w = 2700, 12, 12
    code = onp.arange(1, h * w + 1, dtype='float32').reshape(h, w)  # a pixel's code is its position
    x = np.array(onp.broadcast_to(code, (n, 1, h, w)).copy())
    out = BatchPadCrop(pad=4)(x).asnumpy()[:, 0, 6, 6]      # centre pixel: never padding
    src = out.astype(int) - 1
    top, left = src // w - 6 + 4, src % w - 6 + 4
    for offsets in (top, left):
        counts = onp.bincount(offsets, minlength=9)
        assert counts.size == 9
        assert stats.chisquare(counts).pvalue > 1e-3
    assert stats.chisquare(onp.bincount(top * 9 + left, minlength=81)).pvalue > 1e-3


@pytest.mark.parametrize('factor', [0.6, 1.0, 1.3])
def test_color_ops_with_forced_factors_equal_gluons_ops_on_a_float_image(factor):
    x = rand_batch(n=2, h=6, w=5)
    a = col([factor, factor])
    checks = [(bc.adjust_brightness(F, x, a), npx.image.random_brightness),
              (bc.adjust_contrast(F, x, a), npx.image.random_contrast),
              (bc.adjust_saturation(F, x, a), npx.image.random_saturation)]
    for ours, op in checks:
        for i in range(2):
            want = onp.clip(op(hwc(x[i]), factor, factor).asnumpy(), 0, 1).transpose(2, 0, 1)
            onp.testing.assert_allclose(ours[i].asnumpy(), want, atol=1e-6)
    # hue: Gluon's random_hue adds factor x 360 degrees; -0.3 turn = 0.7 turn
    for t, gluon_t in ((0.25, 0.25), (-0.3, 0.7), (factor - 1, factor)):
        ours = bc.adjust_hue(F, x, col([t, t]))
        for i in range(2):
            want = npx.image.random_hue(hwc(x[i]), gluon_t, gluon_t).asnumpy().transpose(2, 0, 1)
            onp.testing.assert_allclose(ours[i].asnumpy(), want, atol=1e-5)


def test_luma_saturation_is_available_instead_of_mxnets():
    x = rand_batch(n=1, h=2, w=2)
    gray = bc.adjust_saturation(F, x, col([0.0]), mxnet_saturation=False).asnumpy()
    luma = onp.tensordot(bc.LUMA, x.asnumpy()[0], axes=1)
    onp.testing.assert_allclose(gray[0], onp.broadcast_to(luma, (3, 2, 2)), atol=1e-6)


def test_jitter_applies_the_ops_in_each_samples_forced_order():
    x = rand_batch(n=2, h=4, w=4)
    jitter = bc.BatchColorJitter(brightness=0.5, contrast=0.5)
    b, c = col([1.4, 1.4]), col([0.5, 0.5])
    out = jitter.apply(F, x, b, c, np.array([[0, 1], [1, 0]]))
    first_b = bc.adjust_contrast(F, bc.adjust_brightness(F, x, b), c)
    first_c = bc.adjust_brightness(F, bc.adjust_contrast(F, x, c), b)
    onp.testing.assert_allclose(out[0].asnumpy(), first_b[0].asnumpy(), atol=1e-6)
    onp.testing.assert_allclose(out[1].asnumpy(), first_c[1].asnumpy(), atol=1e-6)
    assert not onp.allclose(first_b.asnumpy(), first_c.asnumpy())


def test_jitter_factors_and_order_are_uniform():
    n = 3000
    jitter = bc.BatchColorJitter(0.4, 0.3, 0.2, 0.1)
    *factors, order = jitter.draw(F, np.zeros((n, 3, 1, 1)))
    for f, (lo, hi) in zip(factors, [(0.6, 1.4), (0.7, 1.3), (0.8, 1.2), (-0.1, 0.1)]):
        f = f.asnumpy().ravel()
        assert stats.kstest(f, stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3
    order = order.asnumpy()
    assert (onp.sort(order, axis=1) == onp.arange(4)).all()        # a permutation each
    assert stats.chisquare(onp.bincount(order[:, 0], minlength=4)).pvalue > 1e-3
    # brightness alone on a constant image: the factor is visible directly
    out = bc.BatchColorJitter(brightness=0.4)(np.full((n, 3, 2, 2), 0.5)).asnumpy()
    assert stats.kstest(out[:, 0, 0, 0] / 0.5, stats.uniform(0.6, 0.8).cdf).pvalue > 1e-3


def _hue_degrees(rgb):
    """Hue in degrees of (..., 3) RGB values (any scale)."""
    import colorsys
    return onp.array([colorsys.rgb_to_hsv(*p)[0] * 360 for p in rgb.reshape(-1, 3)])


def test_hue_shifts_match_gluons_RandomColorJitter_distribution():
    n, color = 1500, onp.array([200, 60, 40], dtype='uint8')   # hue 8.6 degrees
    img = np.array(onp.broadcast_to(color, (2, 2, 3)).copy())
    gluon_jitter = T.RandomColorJitter(hue=0.1)
    theirs = onp.stack([gluon_jitter(img).asnumpy()[0, 0] for _ in range(n)]).astype('float32')
    x = np.array(onp.broadcast_to(color / 255.0, (n, 2, 2, 3)).transpose(0, 3, 1, 2)
                 .astype('float32'))
    ours = bc.BatchColorJitter(hue=0.1)(x).asnumpy()[:, :, 0, 0]
    wrap = lambda d: (d + 180) % 360 - 180  # noqa: E731 (shift relative to the input hue)
    h0 = _hue_degrees(color.astype('float32'))[0]
    ours_shift, theirs_shift = wrap(_hue_degrees(ours) - h0), wrap(_hue_degrees(theirs) - h0)
    assert abs(ours_shift).max() <= 36.01 and abs(theirs_shift).max() <= 37
    assert stats.ks_2samp(ours_shift, theirs_shift).pvalue > 1e-3
    assert stats.kstest(ours_shift, stats.uniform(-36, 72).cdf).pvalue > 1e-3


def test_resized_crop_with_forced_box_equals_gluons_crop_and_bilinear_resize():
    x = rand_batch(n=1, h=40, w=36)
    block = BatchResizedCrop((32, 24))   # (width, height), as Gluon's size
    for top, left, h, w in [(0, 0, 40, 36), (3, 5, 12, 20), (10, 1, 30, 35), (39, 35, 1, 1)]:
        ours = block.apply(F, x, col([top]), col([left]), col([h]), col([w]))[0].asnumpy()
        want = mx.image.fixed_crop(hwc(x[0]), left, top, w, h, size=(32, 24), interp=1)
        onp.testing.assert_allclose(ours, want.asnumpy().transpose(2, 0, 1), atol=1e-5)


def _crop_boxes(out_cols, out_rows):
    """(w, h) of the crops from outputs of a marker image (value = 8 x coordinate)."""
    w = (out_cols.max(axis=(1, 2)) - out_cols.min(axis=(1, 2))) / 8 + 1
    h = (out_rows.max(axis=(1, 2)) - out_rows.min(axis=(1, 2))) / 8 + 1
    return onp.round(w), onp.round(h)


def test_resized_crop_area_and_ratio_match_RandomResizedCrop():
    n, size = 1500, 32
    j = onp.arange(size) * 8
    marker = onp.stack([onp.tile(j, (size, 1)), onp.tile(j[:, None], (1, size)),
                        onp.zeros((size, size))], axis=-1).astype('uint8')   # HWC: x, y, 0
    gluon_crop = T.RandomResizedCrop((32, 32), scale=(0.1, 1), ratio=(0.5, 2))
    theirs = onp.stack([gluon_crop(np.array(marker)).asnumpy() for _ in range(n)]).astype(float)
    tw, th = _crop_boxes(theirs[..., 0], theirs[..., 1])
    x = np.array(onp.broadcast_to(marker.transpose(2, 0, 1) / 255.0, (n, 3, size, size))
                 .astype('float32'))
    ours = BatchResizedCrop(32, scale=(0.1, 1), ratio=(0.5, 2))(x).asnumpy() * 255
    ow, oh = _crop_boxes(ours[:, 0], ours[:, 1])
    area, log_ratio = (ow * oh, tw * th), (onp.log(ow / oh), onp.log(tw / th))
    for a, b in (area, log_ratio):
        assert stats.ks_2samp(a, b).pvalue > 1e-3
    # quantiles: the area's relative to its size; the log ratio's, whose median is
    # near 0, absolute (7 % of its range, log 4)
    onp.testing.assert_allclose(onp.quantile(area[0], [.1, .5, .9]),
                                onp.quantile(area[1], [.1, .5, .9]), rtol=0.15)
    onp.testing.assert_allclose(onp.quantile(log_ratio[0], [.1, .5, .9]),
                                onp.quantile(log_ratio[1], [.1, .5, .9]), atol=0.1)
    # offsets: the crop's first column and row (the output's clamped edge pixels), each
    # uniform over the size - side + 1 places the box fits, given its side
    left = onp.round(ours[:, 0].min(axis=(1, 2)) / 8)
    top = onp.round(ours[:, 1].min(axis=(1, 2)) / 8)
    jitter = onp.random.RandomState(0).uniform(size=(2, n))
    for offset, side, u in ((left, ow, jitter[0]), (top, oh, jitter[1])):
        free = size - side   # the box can move 0..free
        assert ((offset >= 0) & (offset <= free)).all()
        moves = free > 0
        assert moves.sum() > n // 2
        assert (offset[moves] == 0).any() and (offset[moves] == free[moves]).any()
        # (offset + U) / (free + 1), U ~ U[0, 1) independent: exactly U[0, 1] if the
        # offset is uniform over 0..free; a box stuck at a corner or kept in half its
        # range gives p below 1e-30 here, a correct one fails one seed in 10^6
        fraction = (offset[moves] + u[moves]) / (free[moves] + 1)
        assert stats.kstest(fraction, 'uniform').pvalue > 1e-6


def test_erasing_with_forced_box_equals_RandomErasing(monkeypatch):
    x = rand_batch(n=2, h=8, w=10)
    box = (2, 3, 4, 5)   # top, left, height, width
    monkeypatch.setattr(RandomErasing, 'box', lambda self, h, w: box)
    out = BatchErasing().apply(F, x, col([1, 0]), *(col([v, v]) for v in box))
    onp.testing.assert_array_equal(out[0].asnumpy(), RandomErasing()(x[0]).asnumpy())
    onp.testing.assert_array_equal(out[1].asnumpy(), x[1].asnumpy())


def test_erasing_rate_and_box_shapes_match_RandomErasing():
    n, h, w, ratio = 3000, 12, 40, (0.5, 4)   # which side gets sqrt(area x ratio) matters
    out = BatchErasing(p=0.5, ratio=ratio)(np.ones((n, 1, h, w))).asnumpy()[:, 0]
    erased = out == 0
    hit = erased.any(axis=(1, 2))
    ours_h, ours_w = erased.any(axis=2).sum(axis=1)[hit], erased.any(axis=1).sum(axis=1)[hit]
    assert (erased.sum(axis=(1, 2))[hit] == ours_h * ours_w).all()      # rectangles
    theirs = [b for b in (RandomErasing(p=0.5, ratio=ratio).box(h, w) for _ in range(n)) if b is not None]
    assert abs(hit.mean() - len(theirs) / n) < 0.05
    th, tw = onp.array([b[2] for b in theirs]), onp.array([b[3] for b in theirs])
    assert stats.ks_2samp(ours_h * ours_w, th * tw).pvalue > 1e-3
    assert stats.ks_2samp(onp.log(ours_h / ours_w), onp.log(th / tw)).pvalue > 1e-3


@pytest.mark.parametrize('name', list(BATCH_PRESETS))
def test_presets_work_hybridized_on_two_cpu_contexts(name):
    aug = get_batch_preset(name)
    aug.hybridize(static_alloc=True, static_shape=True)   # as run_cifar does
    x = rand_batch(n=4)
    outs = [aug(x.as_in_context(ctx)) for ctx in (mx.cpu(0), mx.cpu(1))]
    for out, ctx in zip(outs, (mx.cpu(0), mx.cpu(1))):
        assert out.shape == x.shape and out.context == ctx
        assert 0 <= float(out.min()) and float(out.max()) <= 1
    if name != 'none':   # fresh draws on every call, not frozen in the graph
        assert not all(onp.array_equal(aug(x).asnumpy(), aug(x).asnumpy()) for _ in range(3))


def test_hybridized_block_equals_imperative_when_forced():
    x = rand_batch(n=3)
    hybrid = BatchFlipLeftRight(p=1)
    hybrid.hybridize()
    assert onp.array_equal(hybrid(x).asnumpy(), BatchFlipLeftRight(p=1)(x).asnumpy())


def test_normalize_runs_after_the_batched_augmentation():
    aug = get_batch_preset('erasing', normalize=True)
    aug[1].p, aug[1].scale = 1.0, (0.3, 0.3)
    out = aug(np.ones((8, 3, 32, 32))).asnumpy()
    mean, std = onp.array(CIFAR10_MEAN), onp.array(CIFAR10_STD)
    erased_value = -mean / std                              # 0 erased, then normalized
    for c in range(3):
        assert onp.isclose(out[:, c], erased_value[c], atol=1e-5).any(axis=(1, 2)).all()
        assert onp.isclose(out[:, c], (1 - mean[c]) / std[c], atol=1e-5).any(axis=(1, 2)).all()


def test_batch_split_augments_each_shard_on_its_device():
    devices = [mx.cpu(0), mx.cpu(1)]
    X, y = rand_batch(n=5), np.arange(5)
    X_shards, y_shards = batch_split(BatchFlipLeftRight(p=1))(X, y, devices)
    assert [s.context for s in X_shards] == devices
    assert onp.array_equal(onp.concatenate([s.asnumpy() for s in X_shards]),
                           X.asnumpy()[..., ::-1])
    assert onp.array_equal(onp.concatenate([s.asnumpy() for s in y_shards]), onp.arange(5))


def test_fit_evaluates_with_eval_split_f():
    from gluon_aug.book.devices import split_batch
    from gluon_aug.run.loop import fit
    calls = []

    def train_split(X, y, devices):
        calls.append('train')
        return split_batch(X, y, devices)

    def eval_split(X, y, devices):
        calls.append('eval')
        return split_batch(X, y, devices)
    net = gluon.nn.Dense(10)
    net.initialize(ctx=[mx.cpu()])
    data = gluon.data.DataLoader(gluon.data.ArrayDataset(
        onp.random.rand(8, 4).astype('float32'), onp.arange(8) % 10), batch_size=4)
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
    fit(net, data, data, gluon.loss.SoftmaxCrossEntropyLoss(), trainer, 1, [mx.cpu()],
        train_split, eval_split_f=eval_split)
    assert calls == ['train', 'train', 'eval', 'eval']


@pytest.mark.parametrize('aug', ['book-all', 'augmix'])
def test_cli_batch_backend_end_to_end(tmp_path, aug):
    data = str(tmp_path / 'cifar')
    make_cifar_folder(data, n_train=(40,), n_test=20)
    out = str(tmp_path / 'run')
    proc = run_module('train.cifar', '--aug', aug, '--aug-backend', 'batch', '--normalize',
                      '--data', data, '--out', out, '--model', 'cifar_resnet20_v1', '--epochs',
                      '1', '--batch-size', '16', '--devices', 'cpu:2', '--num-workers', '0',
                      '--no-progress')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].endswith('examples/sec on [cpu(0), cpu(1)]')
    config = read_json(os.path.join(out, 'metrics.json'))['config']
    assert config['aug_backend'] == 'batch' and config['aug'] == aug


def test_run_cifar_refuses_an_unknown_backend(tmp_path):
    with pytest.raises(gluon_aug.UsageError, match="--aug-backend 'gpu' is not one of: sample, batch"):
        gluon_aug.run_cifar(aug_backend='gpu', data=str(tmp_path))


def _sequential(x, steps):
    """Run (block, params) steps one at a time: the unfused reference."""
    for block, params in steps:
        x = block.apply(F, x, *params)
    return x


@pytest.mark.parametrize('chain', ['crop-flip', 'crop-uncrop', 'flip-crop-resize', 'resize-flip-crop',
                                   'flip-resize-flip'])
def test_fused_geometry_equals_the_steps_run_one_by_one(chain):
    from gluon_aug.augment.batch.geometry import remap
    x = rand_batch(n=4, h=12, w=10)
    n = x.shape[0]
    make = {'crop': lambda: (BatchPadCrop(pad=3), (col([0, 6, 3, 5]), col([6, 0, 2, 3]))),
            'uncrop': lambda: (BatchPadCrop(pad=3), (col([6, 0, 3, 1]), col([0, 6, 4, 3]))),
            'flip': lambda: (BatchFlipLeftRight(), (col([1, 0, 1, 1]) > 0,)),
            'resize': lambda: (BatchResizedCrop((7, 9)), (col([0, 2, 5, 1]), col([0, 3, 1, 4]),
                                                          col([12, 6, 7, 10]), col([10, 5, 9, 3])))}
    steps = [make[name]() for name in chain.split('-')]
    fused = remap(F, x, steps).asnumpy()
    want = _sequential(x, steps).asnumpy()
    assert fused.shape[0] == n
    onp.testing.assert_allclose(fused, want, atol=1e-5)
    if chain == 'crop-uncrop':   # shifting back must not bring back what the first zeroed
        assert (fused == 0).sum() == (want == 0).sum() > 0


@pytest.mark.parametrize('name', ['flip-crop', 'resized-crop', 'erasing', 'book-all'])
def test_pipeline_with_fused_steps_equals_the_blocks_one_by_one(name):
    pipeline = get_batch_preset(name, normalize=True)
    x = rand_batch(n=6)
    mx.random.seed(3)
    fused = pipeline(x).asnumpy()
    mx.random.seed(3)     # the same draws, in the same order: only the fusion differs
    y = x
    for block in pipeline:
        y = block(y)
    onp.testing.assert_allclose(fused, y.asnumpy(), atol=1e-4)


def test_a_hybridized_pipeline_follows_a_change_of_channel_count():
    pipeline = get_batch_preset('resized-crop')
    pipeline.hybridize(static_alloc=True, static_shape=True)
    for channels in (3, 1, 3):
        x = np.array(onp.random.RandomState(channels).uniform(
            size=(4, channels, 32, 32)).astype('float32'))
        mx.random.seed(5)
        out = pipeline(x).asnumpy()
        mx.random.seed(5)
        y = x
        for block in pipeline:
            y = block(y)
        assert out.shape == (4, channels, 32, 32)
        onp.testing.assert_allclose(out, y.asnumpy(), atol=1e-4)


@pytest.mark.parametrize('hue_at', [0, 1, 2, 3])
def test_jitter_with_hue_at_each_position_equals_the_ops_in_order(hue_at):
    x = rand_batch(n=2, h=5, w=6)
    jitter = bc.BatchColorJitter(0.5, 0.5, 0.5, 0.3)
    factors = [col([1.4, 0.6]), col([0.5, 1.3]), col([1.2, 0.2]), col([0.2, -0.15])]
    others = [0, 2, 1] if hue_at % 2 else [2, 0, 1]
    order = others[:hue_at] + [3] + others[hue_at:]
    out = jitter.apply(F, x, *factors, np.array([order, order[::-1]]))
    ops = [bc.adjust_brightness, bc.adjust_contrast, bc.adjust_saturation, bc.adjust_hue]
    for i, perm in enumerate([order, order[::-1]]):
        y = x[i:i + 1]
        for j in perm:
            y = ops[j](F, y, factors[j][i:i + 1])
        onp.testing.assert_allclose(out[i].asnumpy(), y[0].asnumpy(), atol=1e-5)


def test_hue_last_jitter_runs_the_others_in_each_samples_order_then_the_hue():
    x = rand_batch(n=2, h=5, w=6)
    jitter = bc.BatchColorJitter(0.5, 0.5, 0.5, 0.3, hue_last=True)
    factors = [col([1.4, 0.6]), col([0.5, 1.3]), col([1.2, 0.2]), col([0.2, -0.15])]
    orders = [[2, 0, 1], [1, 2, 0]]
    out = jitter.apply(F, x, *factors, np.array(orders))
    ops = [bc.adjust_brightness, bc.adjust_contrast, bc.adjust_saturation, bc.adjust_hue]
    for i, perm in enumerate(orders):
        y = x[i:i + 1]
        for j in perm + [3]:
            y = ops[j](F, y, factors[j][i:i + 1])
        onp.testing.assert_allclose(out[i].asnumpy(), y[0].asnumpy(), atol=1e-5)
    *_, drawn = jitter.draw(F, np.zeros((500, 3, 1, 1)))
    assert (onp.sort(drawn.asnumpy(), axis=1) == onp.arange(3)).all()   # hue not in it


def test_the_crash_free_jitter_is_translated_with_gluons_random_order():
    from gluon_aug.augment.transforms import RandomColorJitter
    twin = to_batch(RandomColorJitter(0.4, 0.4, 0.4, 0.1))
    assert not twin.hue_last and twin.amounts == (0.4, 0.4, 0.4, 0.1)
    assert not to_batch(T.RandomColorJitter(0.4, 0.4, 0.4, 0.1)).hue_last
