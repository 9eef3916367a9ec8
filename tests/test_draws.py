"""Where the random boxes, shifts and flips land: every allowed position is drawn,
uniformly, and the rates are the ones asked for. Each test fails on a probed
bug: a box stuck at the top-left corner, the last position never drawn, a
default flip p of 0.4, an erasing rate of 0.9 p, a batch backend that does not
augment."""
import numpy as onp
import pytest
from scipy import stats

from gluon_aug import seed_everything
from gluon_aug._mxnet import gluon, mx, np
from gluon_aug.augment.batch.blocks import BatchErasing, BatchFlipLeftRight, BatchPadCrop
from gluon_aug.augment.batch.base import uniform
from gluon_aug.augment.batch.geometry import offsets
from gluon_aug.augment.transforms import RandomErasing, RandomPadCrop

F = mx.nd   # the F of hybrid_forward when imperative
N = 6000    # draws per test


@pytest.fixture(autouse=True)
def seeded():
    seed_everything(11)


def assert_uniform_over(values, k):
    """`values` are integers 0..k-1, each drawn, uniformly (chi-square)."""
    counts = onp.bincount(onp.asarray(values, dtype=int), minlength=k)
    assert len(counts) == k, f"values outside 0..{k - 1}: {sorted(set(values))[-3:]}"
    assert counts.min() > 0, f"never drawn: {onp.flatnonzero(counts == 0).tolist()} of 0..{k - 1}"
    assert k == 1 or stats.chisquare(counts).pvalue > 1e-4, counts


def ones(n, h=12, w=12):
    return np.ones((n, 1, h, w))


@pytest.mark.parametrize('h, w', [(1, 1), (5, 3), (12, 12)])
def test_batched_box_offsets_reach_every_position_uniformly(h, w):
    """``offsets``: the top-left corner of an h x w box inside a 12 x 12 image."""
    x = ones(N)
    top, left = offsets(F, x, np.full((N, 1, 1, 1), h), np.full((N, 1, 1, 1), w),
                        uniform(F, x, k=2))
    for v, side in ((top, h), (left, w)):
        assert_uniform_over(v.asnumpy().ravel(), 12 - side + 1)


def test_batched_pad_crop_draws_every_shift_uniformly():
    top, left = BatchPadCrop(pad=2).draw(F, ones(N))
    for v in (top, left):
        assert_uniform_over(v.asnumpy().ravel(), 5)


def test_per_sample_pad_crop_draws_every_shift_uniformly():
    img = mx.np.array(onp.arange(16 * 16).reshape(16, 16, 1).astype('uint8'))
    crop = RandomPadCrop(pad=2)
    # the pixel landing at (2, 2) says the shift: it was (2 - dy, 2 - dx) before
    shifts = [crop(img).asnumpy()[2, 2, 0] for _ in range(3000)]
    dy, dx = 2 - onp.array(shifts) // 16, 2 - onp.array(shifts) % 16
    for v in (dy, dx):
        assert_uniform_over(v + 2, 5)


def _erased_boxes(out):
    """(top, left, h, w, hit) of the zeroed rectangle of each (N, H, W) image."""
    erased = out == 0
    hit = erased.any(axis=(1, 2))
    rows, cols = erased.any(axis=2), erased.any(axis=1)
    return rows.argmax(axis=1), cols.argmax(axis=1), rows.sum(axis=1), cols.sum(axis=1), hit


def _relative_positions(top, h, side):
    """top / (side - h) for boxes that can move, else dropped: uniform on [0, 1]."""
    free = side - h
    keep = free > 0
    return (top[keep] + onp.random.uniform(size=keep.sum())) / (free[keep] + 1)


def test_batched_erasing_boxes_land_anywhere_uniformly():
    out = BatchErasing(p=1.0)(ones(N, 12, 20)).asnumpy()[:, 0]
    top, left, h, w, hit = _erased_boxes(out)
    for pos, size, side in ((top, h, 12), (left, w, 20)):
        rel = _relative_positions(pos[hit], size[hit], side)
        assert stats.kstest(rel, 'uniform').pvalue > 1e-4
        assert ((pos[hit] + size[hit]) == side).any()   # the last position is reached


def test_per_sample_erasing_boxes_land_anywhere_uniformly():
    boxes = [b for b in (RandomErasing(p=1.0).box(12, 20) for _ in range(N)) if b]
    top, left, h, w = (onp.array(v) for v in zip(*boxes))
    for pos, size, side in ((top, h, 12), (left, w, 20)):
        assert stats.kstest(_relative_positions(pos, size, side), 'uniform').pvalue > 1e-4
        assert ((pos + size) == side).any()


@pytest.mark.parametrize('p', [0.5, 0.2])
def test_erasing_rates_are_p(p):
    """Per sample and batched; sd of a rate over N draws is about 0.0065."""
    batched = _erased_boxes(BatchErasing(p=p)(ones(N, 16, 16)).asnumpy()[:, 0])[-1].mean()
    per_sample = onp.mean([RandomErasing(p=p).box(16, 16) is not None for _ in range(N)])
    # a box that never fits in 10 tries is rare at these sizes
    for rate in (batched, per_sample):
        assert abs(rate - p) < 0.025, (rate, p)


def test_the_default_flip_p_is_the_books_one_half():
    assert BatchFlipLeftRight().p == 0.5
    flips = BatchFlipLeftRight().draw(F, ones(N))[0].asnumpy().mean()
    assert abs(flips - 0.5) < 0.025
    # ours per sample: the 'flip' preset the book's path trains with (--aug flip), whole
    from gluon_aug.augment.presets import get_preset
    img = mx.np.array(onp.arange(2 * 2).reshape(1, 2, 2).astype('uint8').transpose(1, 2, 0))
    flip = get_preset('flip')
    ours = onp.mean([flip(img).asnumpy()[0, 0, 0] > 0 for _ in range(2000)])
    assert abs(ours - 0.5) < 0.04


def test_the_batch_backend_augments_in_the_step(tmp_path):
    """--aug-backend batch wires the preset's twin into the split: shards differ
    from a plain split of the same batch, and the evaluation split does not."""
    from conftest import make_cifar_folder
    from gluon_aug.book.devices import split_batch
    from gluon_aug.models.zoo import get_model
    from gluon_aug.run.build import build_training
    from gluon_aug.run.config import RunConfig, settle
    data = str(tmp_path / 'cifar')
    make_cifar_folder(data, n_train=(32,), n_test=16)
    s = settle(RunConfig(data=data, seed=1, model='cifar_resnet20_v1', num_workers=0,
                         batch_size=16, aug='erasing', aug_backend='batch',
                         devices='cpu:2'))
    devices = [mx.cpu(0), mx.cpu(1)]
    parts = build_training(s.config, s.recipe, get_model(s.config.model), devices, 'device')
    X, y = next(iter(parts.train_iter))
    plain = [x.asnumpy() for x in split_batch(X, y, devices)[0]]
    shards = [x.asnumpy() for x in parts.split_f(X, y, devices)[0]]
    assert [x.shape for x in shards] == [x.shape for x in plain]
    changed = sum(int((a != b).any(axis=(1, 2, 3)).sum()) for a, b in zip(shards, plain))
    assert changed >= 3          # erasing, p 0.5, hits about 8 of 16
    assert parts.eval_split_f is split_batch
