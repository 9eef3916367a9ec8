"""The base of every batched augmenter: ``draw`` random parameters, then ``apply`` them.

Every augmenter is a Gluon ``HybridBlock`` taking a whole NCHW float batch
already on its device. Its ``draw(F, x)`` returns the per-sample parameters
as tensors (one random tensor per batch, no Python loop over images) and its
``apply(F, x, *params)`` is deterministic, so tests can pass forced
parameters (``block.apply(mx.nd, x, ...)``: `F` is the namespace holding
``np``/``npx``, as in ``hybrid_forward``).
"""
from ..._mxnet import nn
from . import native


def uniform(F, like, low=0.0, high=1.0, k=1):
    """(N, k) draws from U[low, high), or (N, 1, 1, 1) if k is None; N = like.shape[0]."""
    z = F.np.zeros_like(like[:, :1, :1, :1])
    if k is not None:
        z = F.np.tile(z.reshape(-1, 1), (1, k))
    return F.np.random.uniform(low=z + low, high=z + high)


def between(u, low, high):
    """U[0, 1) draws `u` mapped onto [low, high)."""
    return low + (high - low) * u



class BatchAugmenter(nn.HybridBlock):
    """Base: ``hybrid_forward(F, x) = apply(F, x, *draw(F, x))``."""

    _channels = None  # C of the batches seen, for ops that repeat weights over C
    _height = None    # their H, for ops whose fastest kernel depends on it
    _native = False   # whether they can use the fused CPU kernels (``native``)

    def draw(self, F, x):
        raise NotImplementedError

    def apply(self, F, x, *params):
        raise NotImplementedError

    def hybrid_forward(self, F, x):
        return self.apply(F, x, *self.draw(F, x))

    def forward(self, x, *args):
        if hasattr(x, 'ndim'):  # symbols (inside a hybridized parent) pass
            check_nchw_batch(self, x)
            self.set_channels(x.shape[1], x.shape[2], native.usable(x.context))
        return super().forward(x, *args)

    def set_channels(self, channels, height=None, native_kernels=False):
        """Record the batches' channel count (and height, and whether the fused CPU
        kernels apply to them); a cached graph built for others is dropped."""
        if (channels, height, native_kernels) != (self._channels, self._height, self._native):
            self._channels, self._height, self._native = channels, height, native_kernels
            self._clear_cached_op()
            return True
        return False


def check_nchw_batch(block, x):
    if x.ndim != 4:
        raise ValueError(f"{type(block).__name__} expects an NCHW batch, got shape {x.shape}")

