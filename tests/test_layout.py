"""Training after an inference forward repeats exactly (``models/layout.fresh_weights``).

MXNet 1.9.1's oneDNN convolution leaves the weights in its own layout after an
inference forward, and training on from them with Nesterov momentum and weight
decay was not repeatable (the fast recipe's evaluations, every epoch)."""
import numpy as onp
import pytest

from gluon_aug._mxnet import gluon, mx, np
from gluon_aug.models.fastnet import fastnet
from gluon_aug.models.layout import fresh_weights

from conftest import cifar_folder_for_module, run_module


def _train(steps, infer_every):
    mx.random.seed(0)
    net = fastnet()
    net.initialize()
    net.whiten.weight.grad_req = 'null'
    net.hybridize(static_alloc=True, static_shape=True)
    trainer = gluon.Trainer(net.collect_params(), 'nag',
                            {'learning_rate': 0.1, 'momentum': 0.9, 'wd': 1.5e-3})
    rng = onp.random.RandomState(1)
    x = np.array(rng.randn(16, 3, 32, 32), dtype='float32')
    y = np.array(rng.randint(0, 10, 16), dtype='int32')
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    for step in range(steps):
        if infer_every and step % infer_every == infer_every // 2:
            net(x).wait_to_read()   # an evaluation: inference mode
            fresh_weights(net)
        with mx.autograd.record():
            l = loss(net(x), y)
        l.backward()
        trainer.step(16)
    return [p.data().asnumpy() for p in net.collect_params().values()]


def test_training_through_evaluations_equals_training_without_them_bitwise():
    plain = _train(24, None)
    evaluated = _train(24, 8)
    assert all((a == b).all() for a, b in zip(plain, evaluated))


def test_fresh_weights_keeps_values_parameters_and_devices():
    net = fastnet()
    net.initialize(ctx=[mx.cpu(0), mx.cpu(1)])
    net(np.zeros((2, 3, 32, 32), ctx=mx.cpu(0))).wait_to_read()
    params = dict(net.collect_params())
    before = {n: [d.asnumpy() for d in p.list_data()] for n, p in params.items()}
    old = {n: p.list_data()[0] for n, p in params.items()}
    fresh_weights(net)
    assert dict(net.collect_params()) == params                     # the same Parameters
    for n, p in params.items():
        assert [d.ctx for d in p.list_data()] == [mx.cpu(0), mx.cpu(1)]
        assert all((a == d.asnumpy()).all() for a, d in zip(before[n], p.list_data()))
        assert p.list_data()[0] is not old[n]                        # new arrays
        if p.grad_req != 'null':
            assert all((g.asnumpy() == 0).all() for g in p.list_grad())


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return cifar_folder_for_module(tmp_path_factory, (48,), 16)


def test_the_fast_recipe_on_one_device_equals_its_run_on_the_synchronous_engine(data,
                                                                                 tmp_path):
    """MXNet's NaiveEngine runs each operation to its end before the next: no race.
    The threaded engine's run, which evaluates after every epoch, must equal it."""
    flags = ['--recipe', 'fast', '--epochs', '4', '-b', '16', '-j', '0', '--no-progress',
             '--seed', '3']
    params = []
    for engine in ('ThreadedEnginePerDevice', 'NaiveEngine'):
        out = tmp_path / engine
        proc = run_module('train.cifar', '--data', data, '--out', str(out), *flags,
                          env={'MXNET_ENGINE_TYPE': engine})
        assert proc.returncode == 0, proc.stderr
        params.append((out / 'model.params').read_bytes())
    assert params[0] == params[1]
