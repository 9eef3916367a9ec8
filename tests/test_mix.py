"""MixUp and CutMix: the mixed images and labels against NumPy, the draws'
distributions, and the loss against a hand-computed mixture of two losses."""
import numpy as onp
import pytest
from scipy import stats

from gluon_aug._mxnet import gluon, mx, np
from gluon_aug.augment.batch.mix import (BatchCutMix, BatchMixUp, Mix, MixLoss, mixers,
                                         soft_labels)

X = onp.random.RandomState(0).uniform(size=(6, 3, 10, 12)).astype('float32')
Y = onp.array([0, 1, 2, 3, 4, 5])


def test_mixup_mixes_each_image_with_its_partner():
    mix = Mix(onp.array([3, 0, 1, 5, 2, 4]), 0.3)
    out = BatchMixUp().apply(np.array(X), mix).asnumpy()
    assert onp.allclose(out, 0.3 * X + 0.7 * X[mix.perm], atol=1e-6)


def test_cutmix_pastes_the_partners_box_and_its_weight_is_the_area_left():
    mix = Mix(onp.array([1, 2, 3, 4, 5, 0]), 1 - 4 * 5 / 120, (2, 3, 4, 5))
    out = BatchCutMix().apply(np.array(X), mix).asnumpy()
    inside = onp.zeros((10, 12), bool)
    inside[2:6, 3:8] = True
    assert (out[:, :, inside] == X[mix.perm][:, :, inside]).all()
    assert (out[:, :, ~inside] == X[:, :, ~inside]).all()
    labels = soft_labels(Y, mix, 10)
    assert onp.allclose(labels.sum(axis=1), 1)
    # the own label's weight is the share of the image left as it was
    assert onp.allclose(labels[onp.arange(6), Y], (~inside).mean())


def test_label_mass_sums_to_one_also_when_partners_share_a_class():
    mix = Mix(onp.array([1, 0, 2]), 0.8)
    labels = soft_labels([7, 7, 2], mix, 10)
    assert onp.allclose(labels.sum(axis=1), 1) and labels[0, 7] == 1 and labels[2, 2] == 1


def test_mixup_draws_lambda_from_beta_and_a_permutation():
    rng = onp.random.RandomState(1)
    draws = [BatchMixUp(0.4).draw(8, 32, 32, rng) for _ in range(3000)]
    assert all(sorted(d.perm) == list(range(8)) for d in draws)
    # any example may be the first one's partner
    assert stats.chisquare(onp.bincount([d.perm[0] for d in draws], minlength=8)).pvalue > 1e-4
    assert stats.kstest([d.lam for d in draws], stats.beta(0.4, 0.4).cdf).pvalue > 1e-4


def test_cutmix_boxes_follow_lambda_and_land_anywhere():
    rng = onp.random.RandomState(2)
    h, w = 32, 20
    draws = [BatchCutMix(1.0).draw(4, h, w, rng) for _ in range(4000)]
    for d in draws:
        top, left, bh, bw = d.box
        assert 0 <= top and top + bh <= h and 0 <= left and left + bw <= w
        assert d.lam == pytest.approx(1 - bh * bw / (h * w))
    # boxes that fit unclipped have sides int(32 sqrt(1 - lambda)) rounded down to even
    # (centre +- half): their area share is ~ 1 - lambda0 with lambda0 ~ U(0, 1)
    centres = [d.box[0] + d.box[2] // 2 for d in draws if 0 < d.box[0] and d.box[2] < 8]
    assert stats.chisquare(onp.bincount(centres, minlength=h)[4:28]).pvalue > 1e-4
    # the box's sides follow the image's: int(H sqrt(1 - lambda)) tall, int(W ...) wide
    assert max(d.box[2] for d in draws) > 24 and max(d.box[3] for d in draws) <= w
    shares = onp.array([1 - d.lam for d in draws])
    assert 0.25 < shares.mean() < 0.45 and shares.max() > 0.8


def test_mix_loss_is_the_lambda_mixture_of_the_two_losses():
    pred = onp.random.RandomState(3).normal(size=(4, 5)).astype('float32')
    y = onp.array([0, 3, 3, 1])
    pending = [Mix(onp.array([2, 0, 3, 1]), 0.25)]
    loss = MixLoss(gluon.loss.SoftmaxCrossEntropyLoss(), pending)
    got = loss(np.array(pred), np.array(y)).asnumpy()
    logp = pred - onp.log(onp.exp(pred).sum(axis=1, keepdims=True))
    own, partner = -logp[onp.arange(4), y], -logp[onp.arange(4), y[[2, 0, 3, 1]]]
    assert onp.allclose(got, 0.25 * own + 0.75 * partner, atol=1e-5)
    assert not pending
    with pytest.raises(RuntimeError, match='not mixed'):
        loss(np.array(pred), np.array(y))
    # two shards: their draws are taken in order, and a draw must fit its shard
    pending += [Mix(onp.array([1, 0, 3, 2]), 1.0), Mix(onp.array([1, 0, 3, 2]), 0.0)]
    first = loss(np.array(pred), np.array(y)).asnumpy()     # lam 1: the own labels
    second = loss(np.array(pred), np.array(y)).asnumpy()    # lam 0: the partners'
    assert onp.allclose(first, -logp[onp.arange(4), y], atol=1e-5)
    assert onp.allclose(second, -logp[onp.arange(4), y[[1, 0, 3, 2]]], atol=1e-5)
    pending.append(Mix(onp.array([1, 0]), 0.5))
    with pytest.raises(RuntimeError, match='out of step'):
        loss(np.array(pred), np.array(y))


def test_flags_choose_the_mixers():
    assert mixers() == []
    assert [m.name for m in mixers(0.2, 1.0)] == ['mixup', 'cutmix']
    assert mixers(cutmix=0.5)[0].alpha == 0.5
    with pytest.raises(ValueError, match='alpha must be > 0'):
        BatchMixUp(0)


def test_each_step_hands_the_loss_only_its_own_draws():
    from gluon_aug.run.batch_step import BatchSplit
    pending = [Mix(onp.array([0]), 0.5)]   # left over from a step whose loss never ran
    split = BatchSplit(None, seed=3, mixes=mixers(1.0), pending=pending)
    devices = [mx.cpu(0), mx.cpu(1)]
    X, y = np.array(X_BATCH), np.array(onp.arange(6) % 3)
    shards, labels = split(X, y, devices)
    assert len(pending) == 2 and all(len(m.perm) == 3 for m in pending)
    again = BatchSplit(None, seed=3, mixes=mixers(1.0), pending=[])
    assert all((a.asnumpy() == b.asnumpy()).all() for a, b in zip(shards, again(X, y, devices)[0]))


X_BATCH = X
