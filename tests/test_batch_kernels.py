"""The batched twins' kernels against independent NumPy computations: chains of
whole-pixel moves (row gathers and transposes), the bilinear resampling (row
gathers and a matmul), the colour blend (one 3x3 matrix per sample), imperative
and hybridized."""
import numpy as onp
import pytest

from gluon_aug._mxnet import gluon, mx, np
from gluon_aug.augment.batch import color as bc
from gluon_aug.augment.batch.blocks import (BatchFlipLeftRight, BatchFlipTopBottom,
                                            BatchPadCrop)
from gluon_aug.augment.batch.geometry import remap, resample

F = mx.nd


def col(values):
    return np.array(onp.asarray(values, dtype='float32').reshape(-1, 1, 1, 1))


def hybrid(fn, *inputs):
    """fn(F, *inputs) run hybridized (symbols), as the pipelines run."""
    block = gluon.nn.HybridLambda(fn)
    block.hybridize(static_alloc=True, static_shape=True)
    return block(*inputs).asnumpy()


def shift(img, top, left, pad, mode):
    """out[i, j] = img[i + top - pad, j + left - pad] of a (C, H, W) image: RandomPadCrop."""
    h, w = img.shape[1:]
    padded = onp.pad(img, ((0, 0), (pad, pad), (pad, pad)), mode=mode)
    return padded[:, top:top + h, left:left + w]


MOVES = {   # name -> (block, forced parameters for 4 samples, NumPy of one sample)
    'crop': (BatchPadCrop(pad=3), (col([0, 6, 3, 5]), col([6, 0, 2, 3])),
             lambda img, t, l: shift(img, int(t), int(l), 3, 'constant')),
    'reflect': (BatchPadCrop(pad=2, reflect=True), (col([0, 4, 1, 3]), col([4, 0, 2, 2])),
                lambda img, t, l: shift(img, int(t), int(l), 2, 'reflect')),
    'lr': (BatchFlipLeftRight(), (col([1, 0, 1, 0]) > 0,),
           lambda img, f: img[:, :, ::-1] if f else img),
    'tb': (BatchFlipTopBottom(), (col([0, 1, 1, 0]) > 0,),
           lambda img, f: img[:, ::-1, :] if f else img),
}


@pytest.mark.parametrize('chain', ['crop-lr', 'lr-crop', 'reflect-lr', 'crop-tb-crop',
                                   'tb-reflect-lr', 'crop'])
def test_chains_of_whole_pixel_moves_equal_numpy(chain):
    x = np.array(onp.random.RandomState(1).uniform(size=(4, 3, 7, 9)).astype('float32'))
    steps = [MOVES[name] for name in chain.split('-')]
    want = []
    for i, img in enumerate(x.asnumpy()):
        for _, params, fn in steps:
            img = fn(img, *(p.asnumpy().ravel()[i] for p in params))
        want.append(img)
    pairs = [(block, params) for block, params, _ in steps]
    assert onp.array_equal(remap(F, x, pairs).asnumpy(), onp.stack(want))   # exact copies
    flat = [p for _, params in pairs for p in params]

    def fused(F, x, *p):
        it = iter(p)
        return remap(F, x, [(block, tuple(next(it) for _ in params)) for block, params in pairs])
    assert onp.array_equal(hybrid(fused, x, *flat), onp.stack(want))


def test_resampling_equals_numpy_bilinear_weights_with_zero_fill():
    rng = onp.random.RandomState(2)
    n, h, w, ho, wo = 3, 6, 8, 5, 4
    x = np.array(rng.uniform(size=(n, 2, h, w)).astype('float32'))
    rows = rng.uniform(-1.5, h + 0.5, size=(n, 1, ho, 1)).astype('float32')
    rows[0, 0, :3, 0] = [0, h - 1, 2]          # whole pixels, the edges included
    cols = rng.uniform(-1.5, w + 0.5, size=(n, 1, 1, wo)).astype('float32')
    keep_rows = (rng.uniform(size=(n, 1, ho, 1)) < 0.7).astype('float32')
    keep_cols = (rng.uniform(size=(n, 1, 1, wo)) < 0.7).astype('float32')
    wy = onp.maximum(0, 1 - abs(rows[:, :, :, :, None] - onp.arange(h)))[:, :, :, 0]  # (n,1,ho,h)
    wx = onp.maximum(0, 1 - abs(cols[:, :, 0, :, None] - onp.arange(w)))              # (n,1,wo,w)
    wy, wx = wy * keep_rows, wx * keep_cols.reshape(n, 1, wo, 1)
    want = onp.einsum('nai,ncij,noj->ncao', wy[:, 0], x.asnumpy(), wx[:, 0])
    args = [np.array(v) for v in (rows, cols, keep_rows, keep_cols)]
    for channels in (None, 2):
        for rows_first in (False, True):   # two matmuls, or two row gathers and a matmul
            out = resample(F, x, *args[:2], channels, *args[2:], rows_first).asnumpy()
            onp.testing.assert_allclose(out, want, atol=1e-6)
            onp.testing.assert_allclose(hybrid(lambda F, x, r, c, kr, kc: resample(
                F, x, r, c, channels, kr, kc, rows_first), x, *args), want, atol=1e-6)
@pytest.mark.parametrize('mxnet_saturation', [True, False])
def test_blend_equals_numpy_per_sample_selections(mxnet_saturation):
    rng = onp.random.RandomState(3)
    x = rng.uniform(size=(4, 3, 5, 6)).astype('float32')
    a = onp.array([1.3, 0.6, 0.2, 1.0], dtype='float32').reshape(-1, 1, 1, 1)
    contrast = onp.array([1, 0, 0, 0], dtype='float32').reshape(-1, 1, 1, 1)
    saturation = onp.array([0, 1, 0, 0], dtype='float32').reshape(-1, 1, 1, 1)
    luma = onp.array(bc.LUMA).reshape(1, 3, 1, 1)
    gray = ((x * luma).sum(axis=1, keepdims=True) if not mxnet_saturation
            else 0.114 * x[:, 2:3])
    mean_gray = (x * luma).sum(axis=1, keepdims=True).mean(axis=(2, 3), keepdims=True)
    want = onp.clip(a * x + (1 - a) * (contrast * mean_gray + saturation * gray), 0, 1)
    args = [np.array(v) for v in (x, a, contrast, saturation)]
    out = bc.blend(F, *args, mxnet_saturation=mxnet_saturation).asnumpy()
    onp.testing.assert_allclose(out, want, atol=1e-6)
    onp.testing.assert_array_equal(out[3], x[3])       # a = 1, no selector: unchanged
    assert (out[0] != x[0]).any() and (out[2] == onp.clip(0.2 * x[2], 0, 1)).all()
    onp.testing.assert_allclose(hybrid(lambda F, *v: bc.blend(
        F, *v, mxnet_saturation=mxnet_saturation), *args), want, atol=1e-6)
    # only brightness enabled (no selectors): a scaling, clipped
    onp.testing.assert_allclose(bc.blend(F, args[0], args[1], None, None).asnumpy(),
                                onp.clip(a * x, 0, 1), atol=1e-6)
