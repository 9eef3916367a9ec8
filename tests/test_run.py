"""run_cifar's two modes: --book runs the chapter's code path exactly; the default mode
takes the same first step on a compiled net with the seeded loader."""
import os
import subprocess
import sys
import textwrap

import pytest

import gluon_aug
from gluon_aug.book import ch13 as engine
from gluon_aug._mxnet import gluon, init, mx
from gluon_aug.run.config import RunConfig, settle
from gluon_aug.data.cifar import get_dataloader_workers
from gluon_aug.models.zoo import get_model
from gluon_aug.run.build import build_training

from conftest import cifar_folder_for_module, ROOT


def settled(config):
    """(config, recipe) as the entry point settles them."""
    s = settle(config)
    return s.config, s.recipe


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return cifar_folder_for_module(tmp_path_factory, (32,), 16)


class Captured(Exception):
    """Raised by the stand-in train_ch13 once it has seen its arguments."""


def _capture_book_call(monkeypatch, data, **config):
    seen = {}

    def fake_train_ch13(net, train_iter, test_iter, loss, trainer, num_epochs, devices,
                        split_f=None, **kwargs):
        seen.update(net=net, train_iter=train_iter, test_iter=test_iter, trainer=trainer,
                    num_epochs=num_epochs, devices=devices)
        raise Captured
    monkeypatch.setattr(engine, 'train_ch13', fake_train_ch13)
    with pytest.raises(Captured):
        gluon_aug.run_cifar(book=True, data=data, **config)
    return seen


def test_book_mode_builds_the_books_loader_and_an_imperative_net(monkeypatch, data):
    seen = _capture_book_call(monkeypatch, data, epochs=3, devices='cpu:2')
    for loader, shuffled in ((seen['train_iter'], True), (seen['test_iter'], False)):
        assert type(loader) is gluon.data.DataLoader          # Gluon's own, not a subclass
        assert type(loader._dataset).__name__ == '_LazyTransformDataset'   # transform_first
        sampler = loader._batch_sampler._sampler
        assert type(sampler) is (gluon.data.RandomSampler if shuffled
                                 else gluon.data.SequentialSampler)
        assert loader._num_workers == get_dataloader_workers() == 4
        assert loader._batch_sampler._batch_size == 256
    net = seen['net']
    assert not net._active and not any(b._active for b in net._children.values())
    assert type(seen['trainer']._optimizer).__name__ == 'Adam'
    assert seen['trainer']._optimizer.lr == 0.001
    assert seen['num_epochs'] == 3 and seen['devices'] == [mx.cpu(0), mx.cpu(1)]


def test_default_mode_builds_a_seeded_loader_and_a_compiled_net(data):
    config = RunConfig(data=data, seed=4, model='cifar_resnet20_v1', num_workers=0,
                       batch_size=8)
    net = get_model(config.model)
    parts = build_training(*settled(config), net, [mx.cpu()], 'device')
    assert parts.train_iter.epoch_sampler is not None
    assert net.inner._active


def test_default_and_book_take_the_same_first_step_on_the_same_batch(data):
    """Hybridized (default mode) and imperative (--book) d2l ResNet-18 from the same
    weights: the first step's loss on the seeded loader's first batch agrees."""
    devices = [mx.cpu(0), mx.cpu(1)]
    config = RunConfig(data=data, seed=9, num_workers=0, batch_size=16)
    compiled = get_model('resnet18')
    parts = build_training(*settled(config), compiled, devices, 'device')
    X, y = next(iter(parts.train_iter))
    imperative = get_model('resnet18')
    imperative.initialize(init=init.Xavier(), ctx=devices)
    imperative(X[:1].as_in_context(devices[0]))
    for p, q in zip(compiled.collect_params().values(), imperative.collect_params().values()):
        q.set_data(p.data(devices[0]).copy())
    book_trainer = gluon.Trainer(imperative.collect_params(), 'adam', {'learning_rate': 0.001})
    assert compiled._active and not imperative._active
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    ours = engine.train_batch_ch13(compiled, X, y, loss, parts.trainer, devices)
    book = engine.train_batch_ch13(imperative, X, y, loss, book_trainer, devices)
    assert ours[0] == pytest.approx(book[0], rel=1e-5)
    assert ours[1] == book[1]


def test_importing_the_library_changes_neither_backend_nor_logging(tmp_path):
    code = textwrap.dedent(f'''
        import logging, matplotlib
        matplotlib.use('svg')
        import gluon_aug
        assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()
        assert logging.root.handlers == [], logging.root.handlers
        logging.basicConfig(level=logging.INFO)    # the user's own setup takes effect
        assert logging.root.level == logging.INFO and len(logging.root.handlers) == 1
        anim = gluon_aug.Animator(legend=['a'])
        anim.add(1, 0.5)
        anim.savefig({str(tmp_path / 'c.png')!r})   # headless saving works on any backend
        assert matplotlib.get_backend() == 'svg'
        print('ok')
    ''')
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == 'ok', proc.stderr
    assert (tmp_path / 'c.png').read_bytes()[:4] == b'\x89PNG'
    assert os.path.getsize(tmp_path / 'c.png') > 1000
