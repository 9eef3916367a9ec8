"""The batched twins of the policies' ops against the per-sample ops (the reference),
each sample of the batch with a value of its own, on forced values."""
import numpy as onp
import pytest

from gluon_aug._mxnet import mx, np
from gluon_aug.augment.batch import policy_ops as B
from gluon_aug.augment.policies import ops

N = 6
IMAGES = onp.random.RandomState(0).randint(0, 256, (N, 12, 14, 3)).astype(onp.uint8)
IMAGES[1] = 40 + IMAGES[1] // 4                     # a narrow range (autocontrast stretches)
IMAGES[2, :, :, 0] = 77                             # a flat channel (autocontrast keeps it)


def batch():
    return np.array(IMAGES.transpose(0, 3, 1, 2) / 255.0, dtype='float32')


def per_sample(values):
    return np.array(onp.array(values, dtype='float32').reshape(-1, 1, 1, 1))


def as_levels(out):
    """The twin's output as HWC levels (float), for comparison with the per-sample op's uint8."""
    return out.asnumpy().transpose(0, 2, 3, 1).astype(onp.float64) * 255


def expected(op, values, **kwargs):
    return onp.stack([op(img, v, **kwargs) for img, v in zip(IMAGES, values)]).astype(float)


@pytest.mark.parametrize('name, values', [
    ('posterize', [8, 6, 4, 3, 1, 0]), ('solarize', [256, 200, 128, 77, 1, 0]),
])
def test_lookup_twins_are_exact(name, values):
    out = getattr(B, name)(mx.nd, batch(), per_sample(values))
    assert onp.abs(as_levels(out) - expected(getattr(ops, name), values)).max() < 1e-3


def test_autocontrast_and_invert_twins_are_exact():
    out = B.autocontrast(mx.nd, batch())
    diff = onp.abs(as_levels(out) - onp.stack([ops.autocontrast(i) for i in IMAGES]))
    # PIL truncates x * scale - lo * scale in float64, the twin in float32: a value that
    # is an integer in exact arithmetic may land one level apart
    assert diff.max() < 1 + 1e-3 and (diff > 1e-3).mean() < 0.05
    out = B.invert(mx.nd, batch())
    assert onp.abs(as_levels(out) - onp.stack([ops.invert(i) for i in IMAGES])).max() < 1e-3


def test_equalize_twin_is_exact():
    # 32 x 32: with fewer than 256 pixels PIL's step is 0 and equalize keeps every image
    images = onp.random.RandomState(3).randint(0, 256, (N, 32, 32, 3)).astype(onp.uint8)
    images[1] = 40 + images[1] // 4                              # a narrow range
    images[2, :, :, 0] = 77                                      # flat: kept
    images[3, :, :, 1] = onp.where(onp.arange(32) < 1, 200, 10)  # 32 pixels apart: step 3
    images[4] = (images[4] // 64) * 64                           # four levels
    images[5, :, :, 2] = 3 + images[5, :, :, 2] // 32            # eight levels, near black
    x = np.array(images.transpose(0, 3, 1, 2) / 255.0, dtype='float32')
    want = onp.stack([ops.equalize(i) for i in images]).astype(float)
    assert onp.abs(as_levels(B.equalize(mx.nd, x)) - want).max() < 1e-3
    from PIL import Image, ImageOps   # and ops.equalize is PIL's
    assert all((onp.asarray(ImageOps.equalize(Image.fromarray(i))) == w).all()
               for i, w in zip(images, want))


@pytest.mark.parametrize('name', ['brightness', 'color', 'contrast', 'sharpness'])
def test_colour_twins_are_exact(name):
    values = [0.1, 0.5, 1.0, 1.3, 1.9, 0.01]
    out = getattr(B, name)(mx.nd, batch(), per_sample(values))
    diff = onp.abs(as_levels(out) - expected(getattr(ops, name), values))
    # PIL's float32 blend on the levels, truncated to a level, as ops.blend
    assert diff.max() < 1e-3, diff.max()


@pytest.mark.parametrize('bilinear', [False, True], ids=['nearest', 'bilinear'])
def test_geometry_twin_is_one_resampling_with_each_samples_op(bilinear):
    # sample k: one op (the others 0); per-sample reference with the same fill
    ops_of = [('shear_x', 0.3), ('shear_y', -0.2), ('shift_x', 4), ('shift_y', -3),
              ('degrees', 30.0), ('degrees', -135.0)]
    values = {k: [v if name == k else 0 for name, v in ops_of]
              for k in ('shear_x', 'shear_y', 'shift_x', 'shift_y', 'degrees')}
    matrix = B.geometry_matrix(mx.nd, batch(), *(per_sample(values[k]) for k in values))
    fill = (125, 123, 114)
    out = as_levels(B.affine(mx.nd, batch(), matrix, fill, bilinear))
    reference = {'shear_x': ops.shear_x, 'shear_y': ops.shear_y, 'shift_x': ops.translate_x,
                 'shift_y': ops.translate_y, 'degrees': ops.rotate}
    resample = ops.BILINEAR if bilinear else ops.NEAREST
    for k, (name, v) in enumerate(ops_of):
        ref = reference[name](IMAGES[k], v, fill=fill, resample=resample).astype(float)
        diff = onp.abs(out[k] - ref)
        if bilinear:   # both truncate to a level; float32 against float64 may cross one
            assert diff.max() < 1 + 1e-3 and (diff > 1e-3).mean() < 0.02, (name, diff.max())
        elif name != 'degrees':
            assert diff.max() < 1e-3, name
        else:   # float32 against float64: a source point on a pixel's edge may fall either side
            a, b, c, d, e, f = ops.rotation_matrix(v, 12, 14)
            Y, X = onp.mgrid[0:12, 0:14] + 0.5
            src = onp.stack([a * X + b * Y + c, d * X + e * Y + f])
            on_edge = (onp.abs(src - onp.round(src)) < 1e-4).any(axis=0)
            assert not ((diff.max(axis=-1) > 1e-3) & ~on_edge).any(), (name, v)


def test_cutout_twin_sets_each_samples_square():
    cy, cx, size = [0, 5, 11, 6, 3, 9], [0, 7, 13, 2, 10, 6], [4, 6, 2, 20, 0, 5]

    class At:
        def __init__(self, *v):
            self.v = list(v)

        def randint(self, n):
            return self.v.pop(0)
    out = as_levels(B.cutout(mx.nd, batch(), per_sample(cy), per_sample(cx), per_sample(size),
                             fill=(1, 2, 3)))
    ref = onp.stack([ops.cutout(img, s, fill=(1, 2, 3), rng=At(y, x))
                     for img, y, x, s in zip(IMAGES, cy, cx, size)])
    assert onp.abs(out - ref).max() < 1e-3


def test_the_twins_hybridize():
    from gluon_aug._mxnet import nn

    class Twin(nn.HybridBlock):
        def hybrid_forward(self, F, x, v):
            m = B.geometry_matrix(F, x, v * 0, v * 0, v * 0, v * 0, v * 10)
            return B.sharpness(F, B.solarize(F, B.affine(F, x, m, 128, True), v * 200), v)
    twin = Twin()
    values = per_sample([0.5, 1.0, 1.5, 0.2, 1.9, 1.1])
    imperative = twin(batch(), values)
    twin.hybridize()
    assert onp.allclose(twin(batch(), values).asnumpy(), imperative.asnumpy(), atol=1e-5)
