import os
import signal
import subprocess
import sys
import textwrap

import numpy as onp
import pytest

import gluon_aug
from gluon_aug import PRESETS, UsageError, get_preset, seed_everything
from gluon_aug._mxnet import gluon, mx, np
from gluon_aug.augment.presets import eval_transform

T = gluon.data.vision.transforms


def _image(seed=0):
    return np.array(onp.random.RandomState(seed).randint(0, 256, (32, 32, 3)), dtype='uint8')


@pytest.mark.parametrize('name', sorted(PRESETS))
def test_every_preset_maps_uint8_hwc_to_float_chw_in_unit_range(name):
    out = get_preset(name)(_image())
    assert out.shape == (3, 32, 32) and out.dtype == onp.float32
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0


@pytest.mark.parametrize('name', sorted(PRESETS))
def test_normalize_standardizes_with_cifar_statistics(name):
    from gluon_aug.augment.presets import CIFAR10_MEAN, CIFAR10_STD
    img = _image(3)
    seed_everything(5)
    plain = get_preset(name)(img).asnumpy()
    seed_everything(5)
    normed = get_preset(name, normalize=True)(img).asnumpy()
    mean = onp.array(CIFAR10_MEAN).reshape(3, 1, 1)
    std = onp.array(CIFAR10_STD).reshape(3, 1, 1)
    onp.testing.assert_allclose(normed, (plain - mean) / std, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('name', [n for n in PRESETS if n != 'none'])
def test_random_presets_really_draw(name):
    img = _image(4)
    aug = get_preset(name)
    outs = [aug(img).asnumpy() for _ in range(6)]
    assert any(not onp.array_equal(outs[0], o) for o in outs[1:])
    assert (get_preset('none')(img) == get_preset('none')(img)).all()


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


def test_the_flip_presets_batched_twin_flips_half_the_images():
    """--aug flip --aug-backend batch: the twin the preset builds (get_batch_preset,
    hybridized as a run does), not Gluon's own flip, mirrors each image with the book's
    p = 0.5. A default of 0.45 is 7.7 standard deviations off with 6000 images; the test
    fails a correct flip for one seed in 10^6."""
    from scipy import stats
    from gluon_aug.augment.batch.presets import get_batch_preset
    n = 6000
    seed_everything(3)
    x = onp.random.RandomState(3).uniform(size=(n, 3, 4, 5)).astype('float32')
    aug = get_batch_preset('flip')
    aug.hybridize(static_alloc=True, static_shape=True)
    out = aug(np.array(x)).asnumpy()
    mirrored = (out == x[..., ::-1]).all(axis=(1, 2, 3))
    assert (mirrored | (out == x).all(axis=(1, 2, 3))).all()   # each image: one or the other
    assert stats.binomtest(int(mirrored.sum()), n, 0.5).pvalue > 1e-6, mirrored.mean()


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
    with pytest.raises(UsageError, match='choose one of: none, flip, flip-crop'):
        get_preset('sharpen')


# Sample i: RandomState(i).randint(0, 256, (224, 224, 3)) uint8, after mx.random.seed(i):
# with MXNet 1.9.1's fused RandomColorJitter, sample 409 crashed flip-color and 6280
# book-all (apache/mxnet#18986; scripts/repro_jitter_hang.py).
CRASHING = {'flip-color': (404, 412), 'book-all': (6276, 6284)}
TIMEOUT = 90
JITTER_CHILD = textwrap.dedent("""
    import sys
    import numpy as onp
    from gluon_aug import get_preset
    from gluon_aug._mxnet import gluon, mx, np
    name, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

    class Samples(gluon.data.Dataset):
        def __init__(self):
            self.fn = get_preset(name)

        def __len__(self):
            return hi - lo

        def __getitem__(self, k):
            x = np.array(onp.random.RandomState(lo + k).randint(0, 256, (224, 224, 3)),
                         dtype='uint8')
            mx.random.seed(lo + k, ctx=mx.cpu())
            return self.fn(x)
    loader = gluon.data.DataLoader(Samples(), batch_size=2, num_workers=2, timeout=30)
    print('OK', sum(batch.shape[0] for batch in loader), flush=True)
""")


@pytest.mark.parametrize('name', sorted(CRASHING))
def test_color_presets_survive_224px_images_in_two_worker_processes(name):
    """A regression (MXNet's fused hue jitter back in a preset) fails within TIMEOUT s
    instead of blocking: a worker segfaults and the loader times out."""
    lo, hi = CRASHING[name]
    proc = subprocess.Popen([sys.executable, '-c', JITTER_CHILD, name, str(lo), str(hi)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        out, err = '', f'no exit after {TIMEOUT} s'
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)   # the child and any leftover workers
        except ProcessLookupError:
            pass
        proc.communicate()
    assert out.split() == ['OK', str(hi - lo)], (
        f'{name} at 224 px with 2 workers: exit {proc.returncode}\n{err[-1500:]}')


def test_no_preset_runs_mxnets_fused_hue_jitter():
    def blocks(b):
        yield b
        for c in b._children.values():
            yield from blocks(c)
    for name in PRESETS:
        for b in blocks(get_preset(name)):
            if type(b) is T.RandomColorJitter:
                assert b._args[3] == 0, f'{name}: MXNet 1.x RandomColorJitter with hue > 0'
