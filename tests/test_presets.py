import numpy as onp
import pytest

import gluon_aug
from gluon_aug import PRESETS, UsageError, get_preset
from gluon_aug._mxnet import gluon, mx, np
from gluon_aug.presets import eval_transform

T = gluon.data.vision.transforms


def _image(seed=0):
    return np.array(onp.random.RandomState(seed).randint(0, 256, (32, 32, 3)), dtype='uint8')


@pytest.mark.parametrize('name', sorted(PRESETS))
def test_every_preset_maps_uint8_hwc_to_float_chw_in_unit_range(name):
    out = get_preset(name)(_image())
    assert out.shape == (3, 32, 32) and out.dtype == onp.float32
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0


def test_flip_preset_flips_about_half_the_time():
    img = _image()
    mx.random.seed(0)
    aug = get_preset('flip')
    plain = img.asnumpy().transpose(2, 0, 1) / 255.0
    mirrored = plain[:, :, ::-1]
    flips = 0
    for _ in range(400):
        out = aug(img).asnumpy()
        is_flip = onp.allclose(out, mirrored)
        assert is_flip or onp.allclose(out, plain)
        flips += is_flip
    assert 160 < flips < 240  # p = 0.5; 400 draws: 4 standard deviations either side


def steps(block):
    """Every block of a pipeline, depth first (Compose nests HybridSequentials)."""
    yield block
    for child in block._children.values():
        yield from steps(child)


def test_test_pipeline_holds_no_random_transform():
    random_types = tuple(getattr(T, n) for n in dir(T) if n.startswith('Random'))
    for pipeline in (eval_transform(), gluon_aug.test_augs):
        assert not [s for s in steps(pipeline) if isinstance(s, random_types)]
    img = _image(1)
    assert (eval_transform()(img) == eval_transform()(img)).all()


def test_books_train_augs_is_flip_then_totensor():
    kinds = [type(b).__name__ for b in steps(gluon_aug.train_augs) if not b._children]
    assert kinds == ['RandomFlipLeftRight', 'ToTensor']


def test_unknown_preset_lists_the_choices():
    with pytest.raises(UsageError, match='choose one of: flip, none'):
        get_preset('sharpen')
