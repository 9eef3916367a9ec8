"""Muon (gluon_aug.run.muon) against an independent NumPy computation of its steps."""
import math

import numpy as onp
import pytest

from gluon_aug._mxnet import autograd, gluon, mx, nn, np
from gluon_aug.run.muon import Muon, newton_schulz


def ns_numpy(G, steps, eps=1e-7):
    """The quintic Newton-Schulz map, in float64 NumPy (airbench94_muon's formula)."""
    a, b, c = 3.4445, -4.7750, 2.0315
    X = G.astype(onp.float64) / (onp.linalg.norm(G) + eps)
    tall = X.shape[0] > X.shape[1]
    X = X.T if tall else X
    for _ in range(steps):
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X
    return X.T if tall else X


@pytest.mark.parametrize('shape', [(8, 36), (36, 8), (16, 16)])
def test_newton_schulz_is_the_quintic_iteration(shape):
    G = onp.random.RandomState(0).randn(*shape).astype(onp.float32)
    got = newton_schulz(mx.nd.array(G), steps=3).asnumpy()
    onp.testing.assert_allclose(got, ns_numpy(G, 3), rtol=1e-4, atol=1e-5)
    assert got.shape == shape


def test_newton_schulz_brings_every_singular_value_near_one():
    """What it is for: an update that moves every direction at the same rate."""
    rs = onp.random.RandomState(1)
    U, _ = onp.linalg.qr(rs.randn(32, 32))
    V, _ = onp.linalg.qr(rs.randn(96, 32))
    G = (U * onp.linspace(0.05, 3, 32)) @ V.T          # singular values 0.05 .. 3
    s = onp.linalg.svd(newton_schulz(mx.nd.array(G), steps=5).asnumpy(), compute_uv=False)
    assert s.min() > 0.6 and s.max() < 1.25, s
    assert onp.ptp(onp.linalg.svd(G, compute_uv=False)) > 2.9   # the input was not


class Tiny(nn.HybridBlock):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(6, 3, padding=1, use_bias=False, in_channels=3)
        self.norm = nn.BatchNorm(scale=False, in_channels=6)
        self.head = nn.Dense(4, use_bias=False, in_units=6 * 5 * 5)

    def hybrid_forward(self, F, x):
        return self.head(self.norm(self.conv(x)))


def numpy_steps(weights, grads, lr, mults, wd_mults, mu, mu_sgd, batch, ns_steps):
    """Two Trainer steps of Muon (4-D) and Nesterov SGD (the rest), in NumPy."""
    w = {k: v.astype(onp.float64) for k, v in weights.items()}
    m = {k: onp.zeros_like(v) for k, v in w.items()}
    for step_grads in grads:
        for k in w:
            g = step_grads[k] / batch
            if w[k].ndim == 4:
                m[k] = mu * m[k] + g
                u = g + mu * m[k]
                w[k] = w[k] * math.sqrt(w[k].shape[0]) / onp.linalg.norm(w[k])
                w[k] = w[k] - lr * ns_numpy(u.reshape(len(u), -1), ns_steps).reshape(u.shape)
            else:
                g = g + wd_mults[k] * w[k]
                m[k] = mu_sgd * m[k] + g
                w[k] = w[k] - lr * mults[k] * (g + mu_sgd * m[k])
    return w


def test_two_trainer_steps_equal_numpy_muon_and_nesterov_sgd():
    mx.random.seed(0)
    net = Tiny()
    net.initialize(mx.init.Xavier())
    x = np.array(onp.random.RandomState(2).randn(5, 3, 5, 5).astype(onp.float32))
    y = np.array([0, 1, 2, 3, 1])
    net(x)
    params = {p.name: p for p in net.collect_params().values() if p.grad_req != 'null'}
    names = {p.name: role for role, p in (('conv', net.conv.weight), ('beta', net.norm.beta),
                                           ('head', net.head.weight))}
    mults = {'conv': 1.0, 'beta': 40.0, 'head': 7.0}
    wd_mults = {'conv': 0.0, 'beta': 0.5, 'head': 0.02}
    for name, p in params.items():
        p.lr_mult, p.wd_mult = mults[names[name]], wd_mults[names[name]]
    lr, batch = 0.05, 5
    trainer = gluon.Trainer(net.collect_params(), 'muon',
                            {'learning_rate': lr, 'wd': 1.0, 'momentum': 0.85,
                             'muon_momentum': 0.6, 'ns_steps': 3})
    assert isinstance(trainer._optimizer, Muon)
    start = {names[n]: p.data().asnumpy() for n, p in params.items()}
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    grads = []
    for _ in range(2):
        with autograd.record():
            ls = loss(net(x), y)
        ls.backward()
        grads.append({names[n]: p.grad().asnumpy() for n, p in params.items()})
        trainer.step(batch)
    want = numpy_steps(start, grads, lr, mults, {k: v * 1.0 for k, v in wd_mults.items()},
                       0.6, 0.85, batch, 3)
    for n, p in params.items():
        onp.testing.assert_allclose(p.data().asnumpy(), want[names[n]], rtol=2e-4, atol=2e-6,
                                    err_msg=names[n])
    conv = params[net.conv.weight.name].data().asnumpy()
    assert not onp.allclose(conv, start['conv'], atol=1e-3)   # it did move


def test_the_recipes_groups_take_airbench94_muons_steps_in_its_units():
    """fast94-muon's Trainer (build.make_trainer) from a summed loss: the head at
    lr 0.67 and the biases at 0.053 per summed gradient with decay 2e-6 x batch,
    the filters at Muon's 0.24 without decay, as airbench94_muon's PyTorch
    optimizers do (first step: Nesterov makes it (1 + momentum) x the gradient)."""
    from gluon_aug.models.fastnet import fastnet_wide
    from gluon_aug.run.build import make_trainer
    from gluon_aug.run.config import RunConfig, settle
    settings = settle(RunConfig(recipe='fast94-muon', batch_size=6))
    config, recipe = settings.config, settings.recipe
    net = fastnet_wide()
    net.head_kind = recipe.head
    net.initialize()
    x = np.array(onp.random.RandomState(3).randn(6, 3, 32, 32).astype(onp.float32))
    y = np.array([0, 1, 2, 3, 4, 5])
    net(x)
    assert abs(net.head.weight.data().asnumpy().std() - 1) < 1e-5   # airbench94_muon's head
    assert abs(net.scale - 1 / 256) < 1e-12
    trainer = make_trainer(net, config, recipe, 'device')
    with autograd.record():
        ls = gluon.loss.SoftmaxCrossEntropyLoss()(net(x), y)   # summed by backward
    ls.backward()
    before = {p.name: (p.data().asnumpy().astype(onp.float64), p.grad().asnumpy())
              for p in net.collect_params().values() if p.grad_req != 'null'}
    trainer.step(6)
    decay = recipe.muon.decay * 6
    for p in net.collect_params().values():
        if p.grad_req == 'null':
            continue
        w, g = before[p.name]
        if w.ndim == 4:
            u = g * (1 + 0.6)
            w = w * math.sqrt(w.shape[0]) / onp.linalg.norm(w)
            want = w - 0.24 * ns_numpy(u.reshape(len(u), -1), 3).reshape(u.shape)
        else:
            lr = 0.67 if w.ndim == 2 else 0.053
            want = w - lr * (g + decay / lr * w) * (1 + 0.85)
        # float32 Newton-Schulz on 256 x 2304 filters: a few 1e-6 from float64
        onp.testing.assert_allclose(p.data().asnumpy(), want, rtol=1e-3, atol=2e-5,
                                    err_msg=p.name)
