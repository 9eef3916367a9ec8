"""Seeded sampling: repeatable order and augmentations, whatever the workers."""
import numpy as onp
import pytest

import gluon_aug
from gluon_aug._mxnet import gluon, np
from gluon_aug.data.sampling import EpochSampler, SeededTransform


def test_sampler_plans_repeat_per_seed_and_epoch_and_resume_mid_epoch():
    a, b = EpochSampler(50, True, seed=3), EpochSampler(50, True, seed=3)
    first, again = list(a), list(b)
    assert first == again and sorted(i for i, _ in first) == list(range(50))
    assert list(a) != first  # the next epoch has another order
    c = EpochSampler(50, True, seed=3)
    c.set_position(1, start=20)
    assert list(c) == _epoch(3, 1)[20:]
    assert _epoch(3, 1) == _second_epoch(3)  # set_position(1) == after one epoch
    assert [i for i, _ in EpochSampler(7, False, seed=1)] == list(range(7))
    assert list(EpochSampler(50, True, seed=4)) != first


def _second_epoch(seed):
    s = EpochSampler(50, True, seed)
    list(s)
    return list(s)


def _epoch(seed, e):
    s = EpochSampler(50, True, seed)
    s.set_position(e)
    return list(s)


class Identical(gluon.data.Dataset):
    """n copies of one asymmetric image, labelled by position."""

    def __init__(self, n):
        self.img = np.array(onp.arange(32 * 32 * 3).reshape(32, 32, 3) % 251, dtype='uint8')
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, idx):
        return self.img, onp.int32(idx)


def _batches(num_workers, thread_pool=False, seed=11, n=64, preset='flip-crop'):
    ds = SeededTransform(Identical(n), gluon_aug.get_preset(preset))
    loader = gluon.data.DataLoader(ds, batch_size=8, sampler=EpochSampler(n, True, seed),
                                   num_workers=num_workers, thread_pool=thread_pool)
    return [(X.asnumpy(), y.asnumpy()) for X, y in loader]


def test_augmentations_are_identical_with_0_or_2_workers_and_threads():
    ref = _batches(0)
    for kwargs in ({'num_workers': 2}, {'num_workers': 2, 'thread_pool': True}):
        got = _batches(**kwargs)
        assert all((a[0] == b[0]).all() and (a[1] == b[1]).all() for a, b in zip(ref, got))
    assert not all((a[0] == b[0]).all() for a, b in zip(ref, _batches(0, seed=12)))


def test_workers_do_not_repeat_each_others_augmentations():
    # The trap: forked workers share one RNG state, so worker 2's k-th batch would
    # be augmented exactly like worker 1's k-th batch. Every image here is the same,
    # so identical augmentations would show as identical consecutive batches.
    batches = _batches(2, n=64)
    pairs = [(batches[k][0], batches[k + 1][0]) for k in range(0, len(batches) - 1, 2)]
    assert not any((a == b).all() for a, b in pairs)
    per_image = {b.tobytes() for X, _ in batches for b in X}
    assert len(per_image) > 30  # 81 offsets x 2 flips: 64 draws give many distinct results


def test_failing_transform_names_the_example_even_in_a_worker():
    def bad(img):
        raise ValueError('boom')
    ds = SeededTransform(Identical(16), bad)
    loader = gluon.data.DataLoader(ds, batch_size=4, sampler=EpochSampler(16, False, 0),
                                   num_workers=2, timeout=20)
    with pytest.raises(Exception, match=r'augmentation failed on example \d+: ValueError: boom'):
        for _ in loader:
            pass
