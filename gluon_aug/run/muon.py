"""Muon for Gluon: orthogonalized momentum for the convolution filters, Nesterov SGD
for every other parameter (Keller Jordan's airbench94_muon and KellerJordan/Muon,
read, not copied).

For a 4-D weight W (a convolution's filters) with gradient G, one step is::

    m = mu * m + G                       (momentum, mu = `muon_momentum`)
    U = G + mu * m                       (its Nesterov form)
    W = W * sqrt(out channels) / |W|     (the filters kept at a fixed norm)
    W = W - lr * NS(U as out x (in*kh*kw))

where ``NS`` is ``newton_schulz``: a few quintic Newton-Schulz iterations that
map a matrix towards the nearest semi-orthogonal one (its singular values to
about 1), so every direction of the update moves at the same rate. Every other
parameter (biases, the head) takes PyTorch's Nesterov SGD step (``m = mom m + G
+ wd W; W -= lr (G + wd W + mom m)``) with momentum `momentum` and its own
``lr_mult``/``wd_mult``, as airbench94_muon's SGD group.

Why an ``mx.optimizer.Optimizer`` and not a Trainer-side update: the Trainer
keeps calling one optimizer per parameter and device, so the split-batch path,
the kvstore, ``Trainer.step(batch_size)``, the learning-rate schedule
(``set_learning_rate``) and checkpoints (``run/checkpoint.py`` saves any
optimizer's state) work unchanged; and ``gluon.Trainer(params, 'muon', ...)``
is how a Gluon user would ask for it in their own code.

Departures from airbench94_muon: the iteration runs in float32 (airbench's in
bfloat16 on the GPU; float32 is closer to the exact map), and the learning rate
of a parameter comes from the Trainer's, times its ``lr_mult``.
"""
import math

from .._mxnet import mx

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)   # quintic: steepest slope at 0 (airbench)


def newton_schulz(G, steps=3, eps=1e-7):
    """About U V^T of G = U S V^T (a 2-D legacy NDArray): `steps` quintic
    Newton-Schulz iterations X <- a X + (b A + c A^2) X, A = X X^T, from
    X = G / |G|, on the wide orientation of G (the same result, since
    (X X^T) X = X (X^T X), with the smaller Gram matrix). Not exactly orthogonal: the
    coefficients trade convergence at 1 for speed near 0 (singular values end
    near 0.7-1.2), which airbench found does not hurt."""
    a, b, c = NS_COEFFICIENTS
    X = mx.nd.broadcast_div(G, mx.nd.norm(G).reshape((1, 1)) + eps)
    tall = G.shape[0] > G.shape[1]
    if tall:
        X = X.T
    for _ in range(steps):
        A = mx.nd.dot(X, X, transpose_b=True)
        B = b * A + c * mx.nd.dot(A, A)
        X = a * X + mx.nd.dot(B, X)
    return X.T if tall else X


@mx.optimizer.register
class Muon(mx.optimizer.Optimizer):
    """Muon for the 4-D weights, Nesterov SGD for the rest (see the module
    docstring). `momentum`: the others' Nesterov momentum; `muon_momentum`: the
    filters'; `ns_steps`: Newton-Schulz iterations per step; `nesterov`: False
    for plain momentum. The filters take no weight decay (their norm is fixed
    instead)."""

    def __init__(self, momentum=0.85, muon_momentum=0.6, ns_steps=3, nesterov=True, **kwargs):
        super().__init__(**kwargs)
        self.momentum, self.muon_momentum, self.ns_steps = momentum, muon_momentum, ns_steps
        self.nesterov = nesterov   # False: plain momentum (m itself is the step), both groups

    def create_state(self, index, weight):
        return mx.nd.zeros(weight.shape, weight.context, dtype=weight.dtype)

    def update_multi_precision(self, index, weight, grad, state):
        self.update(index, weight, grad, state)   # float32 weights only (bfloat16 runs too)

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr = self._get_lr(index)
        w, m = weight.as_nd_ndarray(), state.as_nd_ndarray()
        g = grad.as_nd_ndarray() * self.rescale_grad
        if self.clip_gradient:
            g = mx.nd.clip(g, -self.clip_gradient, self.clip_gradient)
        if len(w.shape) != 4:
            # PyTorch's Nesterov SGD, which airbench tuned: the decay joins the gradient
            # in the momentum and in the step (MXNet's nag_mom_update takes it at the
            # new weight into the momentum, which differs from the second step on)
            g = g + self._get_wd(index) * w
            m[:] = self.momentum * m + g
            w[:] = w - lr * (g + self.momentum * m if self.nesterov else m)
            return
        m[:] = self.muon_momentum * m + g
        u = g + self.muon_momentum * m if self.nesterov else m
        norm = mx.nd.norm(w).reshape((1, 1, 1, 1))   # no wait for the value
        w[:] = mx.nd.broadcast_mul(w, math.sqrt(w.shape[0]) / norm)
        step = newton_schulz(u.reshape((w.shape[0], -1)), self.ns_steps)
        w[:] = w - lr * step.reshape(w.shape)
