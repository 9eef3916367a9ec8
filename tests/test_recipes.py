"""The fast recipe's ingredients, each checked against an independent computation, and
`--recipe fast` end to end (killed and resumed bitwise, like the book recipe)."""
import os
import signal
import subprocess
import sys

import numpy as onp
import pytest

from gluon_aug._mxnet import gluon, init, mx, nn, np
from gluon_aug.run.ingredients import TTA, FreezeAfter, LabelSmoothingLoss, LRSchedule, lr_at
from gluon_aug.data.loaders import ArrayLoader
from gluon_aug.run.loop import Position
from gluon_aug.models.fastnet import fastnet, init_whitening, whitening_filters
from gluon_aug.run.recipes import INGREDIENTS, RECIPES

from conftest import ROOT, assert_one_line_error, cifar_folder_for_module, read_json, run_module


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return cifar_folder_for_module(tmp_path_factory, (48,), 16)


def test_whitening_filters_whiten_the_patches_and_the_frozen_conv_applies_them():
    rng = onp.random.RandomState(0)
    noise = rng.randn(6, 3, 6, 6)
    images = noise + 0.8 * onp.roll(noise, 1, axis=2) + 0.5 * noise[:, :1]   # correlated
    w = whitening_filters(images.astype('float32'), eps=0.0)
    assert w.shape == (24, 3, 2, 2)
    # every 2x2x3 patch, computed here by loops (independent of the library's strides)
    patches = onp.array([images[n, :, i:i + 2, j:j + 2].ravel()
                         for n in range(6) for i in range(5) for j in range(5)], 'float64')
    out = patches @ w.reshape(24, -1).T.astype('float64')          # the filters' responses
    cov = out[:, :12].T @ out[:, :12] / len(patches)
    onp.testing.assert_allclose(cov, onp.eye(12), atol=1e-3)       # whitened
    onp.testing.assert_allclose(out[:, 12:], -out[:, :12], rtol=1e-6)   # and negated
    # the net's first conv, frozen, computes exactly these responses (plus its zero bias)
    net = fastnet()
    net.initialize(init.Xavier())
    init_whitening(net, images.astype('float32'))
    assert net.whiten.weight.grad_req == 'null'
    conv = net.whiten(np.array(images.astype('float32'))).asnumpy()   # (6, 24, 5, 5)
    onp.testing.assert_allclose(conv.transpose(0, 2, 3, 1).reshape(-1, 24),
                                patches @ whitening_filters(images.astype('float32')).reshape(
                                    24, -1).T, rtol=1e-4, atol=1e-4)


def test_alternating_flip_mirrors_each_image_in_exactly_every_other_epoch(data):
    loader = ArrayLoader(True, 16, data, seed=3, flip='alternating', translate=0)
    plain = loader.data.asnumpy()   # the stored set, before augmentation
    flipped = {}
    for epoch in range(6):
        order = loader.epoch_sampler.plan(epoch)[0]
        batches = onp.concatenate([x.asnumpy() for x, _ in loader])
        for k, i in enumerate(order):
            same = onp.array_equal(batches[k], plain[i])
            mirrored = onp.array_equal(batches[k], plain[i][:, :, ::-1])
            assert same != mirrored   # random images: either as they are or mirrored
            flipped.setdefault(int(i), []).append(mirrored)
    for bits in flipped.values():
        assert all(a != b for a, b in zip(bits, bits[1:]))   # every other epoch exactly
    first = [bits[0] for bits in flipped.values()]
    assert 0 < sum(first) < len(first)     # the first epoch's flips are random


def test_tta_logits_are_the_mean_of_the_views_logits():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, 3, padding=1), nn.Flatten(), nn.Dense(10))
    net.initialize(init.Xavier())
    x = np.random.uniform(size=(3, 3, 8, 8))
    mirror = lambda v: v[:, :, :, ::-1]   # noqa: E731
    padded = onp.pad(x.asnumpy(), ((0, 0), (0, 0), (1, 1), (1, 1)), mode='reflect')
    up_left, down_right = np.array(padded[:, :, :-2, :-2]), np.array(padded[:, :, 2:, 2:])
    views = [net(v) for v in (x, mirror(x))]
    want1 = (views[0] + views[1]) / 2
    shifted = [net(v) for v in (up_left, mirror(up_left), down_right, mirror(down_right))]
    want2 = 0.5 * want1 + 0.125 * sum(shifted)
    for level, want in ((0, net(x)), (1, want1), (2, want2)):
        onp.testing.assert_allclose(TTA(net, level)(x).asnumpy(), want.asnumpy(),
                                    rtol=1e-5, atol=1e-6)


def test_label_smoothing_matches_the_formula():
    rng = onp.random.RandomState(1)
    logits, labels, eps = rng.randn(5, 10).astype('float32'), rng.randint(0, 10, 5), 0.2
    target = onp.full((5, 10), eps / 10)
    target[onp.arange(5), labels] += 1 - eps
    logp = logits - onp.log(onp.exp(logits).sum(axis=1, keepdims=True))
    want = -(target * logp).sum(axis=1)
    got = LabelSmoothingLoss(eps)(np.array(logits), np.array(labels)).asnumpy()
    onp.testing.assert_allclose(got, want, rtol=1e-5)
    plain = gluon.loss.SoftmaxCrossEntropyLoss()(np.array(logits), np.array(labels))
    onp.testing.assert_allclose(LabelSmoothingLoss(0.0)(np.array(logits), np.array(labels))
                                .asnumpy(), plain.asnumpy(), rtol=1e-6)


def test_the_schedule_hits_its_endpoints():
    warmup, start, end = RECIPES['fast'].schedule
    lr, total = 0.4, 1000
    assert lr_at(lr, (warmup, start, end), 0, total) == pytest.approx(start * lr)
    assert lr_at(lr, (warmup, start, end), int(warmup * total), total) == pytest.approx(lr)
    assert lr_at(lr, (warmup, start, end), total, total) == pytest.approx(end * lr)
    assert lr_at(lr, None, 517, total) == lr
    # the callback sets the Trainer's rate before each step: first and last step
    net = nn.Dense(2)
    net.initialize()
    net(np.zeros((1, 3)))
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 1.0})
    schedule = LRSchedule(trainer, lr, (warmup, start, end))
    schedule.on_fit_start(10, 100, Position())
    schedule.on_batch_start(0, 0)
    assert trainer.learning_rate == pytest.approx(start * lr)
    schedule.on_batch_start(9, 99)
    assert trainer.learning_rate == pytest.approx(lr_at(lr, (warmup, start, end), 999, 1000))
    assert abs(trainer.learning_rate - end * lr) < (1 - end) * lr / (1 - warmup) / 999 + 1e-9


def test_every_ingredient_can_be_switched_off_and_the_book_has_none():
    fast = [RECIPES['fast'], RECIPES['fast94']]
    for name, off in INGREDIENTS.items():
        for recipe in fast:
            changed = recipe.without(name)
            assert all(getattr(changed, k) == v for k, v in off.items())
        assert any(getattr(r, k) != v for r in fast for k, v in off.items()), name  # used
        assert all(getattr(RECIPES['book'], k) == v or k == 'optimizer'
                   for k, v in off.items()), name                          # off in book
    # fast94 is fast with every ingredient, at airbench94's size and its bias freeze
    assert all(RECIPES['fast94'].without(n) != RECIPES['fast94'] for n in INGREDIENTS)


@pytest.mark.parametrize('kind', ['kaiming', 'fan-in'])
def test_fastnet_draws_its_weights_as_its_init_kind_says(kind):
    """'fan-in': uniform within +-1/sqrt(fan_in), PyTorch's default (std bound/sqrt 3);
    'kaiming': normal, std sqrt(2/fan_in); the first filters of each 3x3 conv Dirac."""
    mx.random.seed(0)
    net = fastnet(widths=(64, 256, 256))
    net.init_kind = kind
    net.initialize()
    convs = [c for b in net.blocks for c in (b.conv1, b.conv2)]
    for layer, fan_in in [(c, c.weight.shape[1] * 9) for c in convs] + [(net.head, 256)]:
        w = layer.weight.data().asnumpy()
        k = min(w.shape[:2]) if layer is not net.head else 0
        drawn = w[k:].ravel()   # a square conv is all Dirac
        bound = 1 / onp.sqrt(fan_in)
        if not drawn.size:
            pass
        elif kind == 'fan-in':
            assert onp.abs(drawn).max() <= bound
            assert onp.std(drawn) == pytest.approx(bound / onp.sqrt(3), rel=0.1)
        else:
            assert onp.std(drawn) == pytest.approx(onp.sqrt(2 / fan_in), rel=0.1)
        if k:
            assert (w[onp.arange(k), onp.arange(k), 1, 1] == 1).all()


def test_freeze_after_trains_a_parameter_for_its_epochs_then_holds_it_exactly():
    net = nn.Dense(3, in_units=4)
    net.initialize(init.Normal(1.0))
    trainer = gluon.Trainer(net.collect_params(), 'nag', {'learning_rate': 0.5,
                                                          'momentum': 0.9, 'wd': 0.1})
    freeze = FreezeAfter(net.bias, 1)
    x = np.array(onp.random.RandomState(0).randn(8, 4), dtype="float32")
    y = np.arange(8) % 3
    history = []
    for epoch, batch in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]:
        freeze.on_batch_start(epoch, batch)
        with mx.autograd.record():
            loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(x), y)
        loss.backward()
        trainer.step(8)
        history.append((net.bias.data().asnumpy().copy(), net.weight.data().asnumpy().copy()))
    bias = [b for b, _ in history]
    weight = [w for _, w in history]
    assert all((bias[i] != bias[i + 1]).any() for i in range(2))     # trained in epoch 0
    assert all((bias[2] == b).all() for b in bias[3:])              # held from epoch 1 on,
    assert all((weight[i] != weight[i + 1]).any() for i in range(5))   # the rest trains
    freeze.on_batch_start(0, 0)   # a step of an earlier epoch trains it again
    assert net.bias.grad_req == 'write'


FAST = ['--recipe', 'fast', '--epochs', '3', '-b', '16', '--devices', 'cpu:2', '-j', '0',
        '--no-progress', '--seed', '5', '--checkpoint-every', '1']


def test_fast_recipe_runs_on_two_contexts_and_records_its_overrides(fast_reference):
    metrics = read_json(fast_reference / 'metrics.json')
    assert metrics['run']['devices'] == '[cpu(0), cpu(1)]'
    assert metrics['recipe']['name'] == 'fast'
    assert metrics['recipe']['overrides'] == {'epochs': 3, 'batch_size': 16}
    assert metrics['config']['model'] == 'fastnet' and metrics['config']['lr'] == 0.4
    assert metrics['config']['optimizer'] == 'nag'


def _params(out):
    return (out / 'model.params').read_bytes()


def test_fast94_freezes_its_whitening_bias_and_resumes_bitwise(data, tmp_path):
    """fast94 on tiny data for 4 epochs (the bias freezes from the 4th): the freeze
    and the init change the run (against --without whiten-bias, fan-in-init), and a
    run killed in the frozen epoch and resumed ends bitwise where the uninterrupted
    one does."""
    flags = ['--recipe', 'fast94', '--epochs', '4', '-b', '16', '-j', '0', '--no-progress',
             '--seed', '3', '--checkpoint-every', '1']
    runs = {name: tmp_path / name for name in ('ref', 'unfrozen', 'kaiming', 'killed')}
    for name, extra in (('ref', []), ('unfrozen', ['--without', 'whiten-bias']),
                        ('kaiming', ['--without', 'fan-in-init'])):
        proc = run_module('train.cifar', '--data', data, '--out', str(runs[name]), *flags,
                          *extra)
        assert proc.returncode == 0, proc.stderr
    metrics = read_json(runs['ref'] / 'metrics.json')
    assert metrics['recipe']['name'] == 'fast94'
    assert (metrics['config']['model'], metrics['config']['lr']) == ('fastnet-wide', 1.5)
    assert _params(runs['ref']) != _params(runs['unfrozen'])
    assert _params(runs['ref']) != _params(runs['kaiming'])
    killed = subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'killpoint.py'),
                             'batch:11', '--data', data, '--out', str(runs['killed']), *flags],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr   # epoch 4 of 3 batches each
    proc = run_module('train.cifar', '--data', data, *flags, '--resume', str(runs['killed']))
    assert proc.returncode == 0, proc.stderr
    assert _params(runs['killed']) == _params(runs['ref'])


@pytest.fixture(scope='module')
def fast_reference(data, tmp_path_factory):
    ref = tmp_path_factory.mktemp('fast') / 'ref'
    proc = run_module('train.cifar', '--data', data, '--out', str(ref), *FAST)
    assert proc.returncode == 0, proc.stderr
    return ref


@pytest.mark.parametrize('die_at', ['batch:4', 'eval:2'])
def test_fast_recipe_killed_and_resumed_is_bitwise_identical(die_at, data, fast_reference,
                                                            tmp_path):
    """Nesterov momentum state, the schedule's position, the lookahead average and
    the array loader's plan all come back from the checkpoint."""
    ref = fast_reference
    out = tmp_path / 'run'
    killed = subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'killpoint.py'),
                             die_at, '--data', data, '--out', str(out), *FAST], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    proc = run_module('train.cifar', '--data', data, *FAST, '--resume', str(out))
    assert proc.returncode == 0, proc.stderr
    assert _params(out) == _params(ref)
    strip = lambda m: [{k: v for k, v in e.items() if k in ('train_loss', 'test_acc')}  # noqa
                       for e in m['epochs']]
    assert strip(read_json(out / 'metrics.json')) == strip(read_json(ref / 'metrics.json'))


def test_fast_recipe_with_a_batched_aug_repeats_and_resumes_bitwise(data, fast_reference,
                                                                   tmp_path):
    """--recipe fast --aug NAME --aug-backend batch: the array loader hands raw batches
    to the step, which augments them with the twin (seeded per step) and standardizes."""
    flags = [*FAST, '--aug', 'trivialaugment', '--aug-backend', 'batch']
    runs = [tmp_path / 'a', tmp_path / 'b']
    for out in runs:
        proc = run_module('train.cifar', '--data', data, '--out', str(out), *flags)
        assert proc.returncode == 0, proc.stderr
    assert _params(runs[0]) == _params(runs[1]) != _params(fast_reference)
    config = read_json(runs[0] / 'metrics.json')['config']
    assert (config['aug'], config['aug_backend']) == ('trivialaugment', 'batch')
    out = tmp_path / 'killed'
    killed = subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'killpoint.py'),
                             'batch:4', '--data', data, '--out', str(out), *flags], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    proc = run_module('train.cifar', '--data', data, *flags, '--resume', str(out))
    assert proc.returncode == 0, proc.stderr
    assert _params(out) == _params(runs[0])


@pytest.mark.parametrize('backend', ['sample', 'batch'])
def test_fast_recipe_wires_aug_into_its_loader_or_into_the_step(backend, data):
    from gluon_aug.augment.batch.blocks import BatchNormalize
    from gluon_aug.run.batch_step import BatchSplit
    from gluon_aug.run.build import loaders
    from gluon_aug.run.config import config_from_args, settle
    from train.cifar import get_args_parser
    args = get_args_parser().parse_args(['--recipe', 'fast', '--aug', 'flip-crop', '--data',
                                         data, '--aug-backend', backend, '--seed', '1'])
    settings = settle(config_from_args(args))
    train, _, split, _ = loaders(settings.config, settings.recipe, 0, 1, [])
    if backend == 'batch':   # raw batches; the twin, then standardization, in the step
        assert train.raw and train.sample_augs is None and isinstance(split, BatchSplit)
        assert [type(b).__name__ for b in split.aug] == ['BatchPadCrop', 'BatchFlipLeftRight',
                                                         'BatchNormalize']
        assert isinstance(split.aug[-1], BatchNormalize)
    else:
        assert not train.raw and train.sample_augs is not None and not isinstance(split,
                                                                                  BatchSplit)


def test_the_array_loader_hands_raw_batches_to_a_batched_aug(data):
    import numpy as onp
    from gluon_aug.data.loaders import ArrayLoader
    raw = ArrayLoader(True, 16, data, seed=1, flip='alternating', translate=2, raw=True)
    x, _ = next(iter(raw))
    plan = raw.epoch_sampler.plan(0)[0][:16]
    assert (x.asnumpy() == (raw.images[plan].transpose(0, 3, 1, 2) / 255.0).astype('float32')).all()
    test = ArrayLoader(False, 16, data, seed=1, flip='alternating', translate=2, raw=True)
    assert onp.allclose(next(iter(test))[0].asnumpy(), test.data.asnumpy()[:16])   # standardized


@pytest.mark.parametrize('flags, needles', [
    (['--recipe', 'fast', '--normalize'], ['standardizes on its own', 'drop --normalize']),
    (['--recipe', 'fast', '--aug-backend', 'batch'], ['--aug-backend batch needs --aug NAME']),
    (['--recipe', 'fast', '--aug', 'flip-crop', '--without', 'translate'],
     ["--aug replaces the fast recipe's flips and shifts"]),
    (['--without', 'tta'], ['the book recipe has none']),
    (['--recipe', 'fast', '--without', 'dropout'], ["invalid choice: 'dropout'"]),
    (['--recipe', 'fast', '--without', 'whiten-bias'], ['fast has no whiten-bias ingredient']),
    (['--recipe', 'fast94', '--model', 'resnet18'], ['whitens with fastnet', "'resnet18'"]),
    (['--book', '--recipe', 'fast'], ['--recipe would change']),
])
def test_recipe_misuse_is_one_line_exit_2(flags, needles, data, tmp_path):
    proc = run_module('train.cifar', '--data', data, '--out', str(tmp_path / 'run'), *flags)
    assert_one_line_error(proc, *needles)
    assert not (tmp_path / 'run').exists()


def test_fast_recipe_with_aug_runs_the_preset_per_sample_in_its_array_loader(data):
    """--recipe fast --aug NAME: each example through the preset, seeded by its plan
    seed, then standardized; the recipe's own flips and shifts are off."""
    import numpy as onp
    from gluon_aug.augment.presets import get_preset
    from gluon_aug.data.loaders import ArrayLoader

    def batches(aug, seed=1):
        loader = ArrayLoader(True, 16, data, seed=seed, flip='alternating', translate=2,
                             sample_augs=get_preset(aug))
        return loader, [(x.asnumpy(), y.asnumpy()) for x, y in loader]
    loader, plain = batches('none')
    plan = loader.epoch_sampler.plan(0)[0][:len(loader.epoch_sampler)]   # the epoch it ran
    got = onp.concatenate([x for x, _ in plain])
    assert onp.allclose(got, loader.data.asnumpy()[plan], atol=1e-6)   # untouched, standardized
    _, first = batches('autoaugment')
    _, again = batches('autoaugment')
    assert all((a[0] == b[0]).all() for a, b in zip(first, again))
    # each example is seeded with its own plan seed before its draws, though the batch
    # waits once: the same as augmenting and waiting image by image (flip-color draws
    # from MXNet's generator, autoaugment from NumPy's)
    from gluon_aug.data.loaders import standardize
    from gluon_aug.seeding import seed_everything
    for aug in ('flip-color', 'autoaugment'):
        loader = ArrayLoader(True, 16, data, seed=1, flip=None, translate=0,
                             sample_augs=get_preset(aug))
        indices, seeds = onp.arange(12), onp.arange(100, 112)
        one_by_one = []
        for idx, s in zip(indices, seeds):
            seed_everything(int(s), ctx=mx.cpu())
            one_by_one.append(loader.sample_augs(mx.np.array(loader.images[idx])).asnumpy())
        assert (loader.augment_each(indices, seeds).asnumpy() ==
                standardize(onp.stack(one_by_one))).all()
    assert not all(onp.allclose(a[0], b[0]) for a, b in zip(first, plain))
