import pytest

from gluon_aug import UsageError, get_model, resnet18, split_batch
from gluon_aug._mxnet import autograd, gluon, init, mx, nn, np
from gluon_aug.models.zoo import LegacyAdapter


def num_parameters(net):
    """Number of scalar parameters (after initialization)."""
    return sum(int(p.data().size) for p in net.collect_params().values())


def _conv(cin, cout, k):
    return cin * cout * k * k + cout


def _bn(c):
    return 4 * c  # gamma, beta, running mean, running variance


def _residual(cin, cout, use_1x1):
    return (_conv(cin, cout, 3) + _conv(cout, cout, 3) + 2 * _bn(cout)
            + (_conv(cin, cout, 1) if use_1x1 else 0))


def test_resnet18_has_d2l_parameter_count():
    net = resnet18(10)
    net.initialize(init.Xavier())
    net(np.zeros((1, 3, 32, 32)))
    expected = _conv(3, 64, 3) + _bn(64)
    expected += 2 * _residual(64, 64, False)
    for cin, cout in ((64, 128), (128, 256), (256, 512)):
        expected += _residual(cin, cout, True) + _residual(cout, cout, False)
    expected += 512 * 10 + 10
    assert num_parameters(net) == expected
    assert 11.1e6 < expected < 11.3e6  # "11.2 M parameters"


def test_resnet18_is_the_cifar_variant():
    net = resnet18(10)
    net.initialize(init.Xavier())
    stem = net[0]
    assert isinstance(stem, nn.Conv2D)
    assert stem._kwargs['kernel'] == (3, 3) and stem._kwargs['stride'] == (1, 1)
    assert not any(isinstance(b, (nn.MaxPool2D,)) for b in net._children.values())
    assert isinstance(net[-2], nn.GlobalAvgPool2D) and isinstance(net[-1], nn.Dense)
    X = np.random.uniform(size=(2, 3, 32, 32))
    shapes = []
    for layer in net:
        X = layer(X)
        shapes.append(X.shape)
    # after stem (3 layers): stages of 64/128/256/512 channels, halving 32 -> 4
    assert shapes[3:7] == [(2, 64, 32, 32), (2, 128, 16, 16), (2, 256, 8, 8), (2, 512, 4, 4)]
    assert shapes[-1] == (2, 10)


def test_hybridized_resnet18_matches_imperative():
    net = resnet18(10)
    net.initialize(init.Xavier())
    X = np.random.uniform(size=(2, 3, 32, 32))
    before = net(X).asnumpy()
    net.hybridize()
    after = net(X).asnumpy()
    assert abs(before - after).max() < 1e-4


def test_gluoncv_model_trains_in_numpy_mode_through_the_adapter():
    net = get_model('cifar_resnet20_v1', num_classes=10)
    assert isinstance(net, LegacyAdapter)
    devices = [mx.cpu(0), mx.cpu(1)]
    net.initialize(init.Xavier(), ctx=devices)
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    X_shards, y_shards = split_batch(np.random.uniform(size=(8, 3, 32, 32)),
                                     np.arange(8), devices)
    losses = []
    for _ in range(3):
        with autograd.record():
            outs = [net(X) for X in X_shards]
            ls = [loss(out, y) for out, y in zip(outs, y_shards)]
        for l in ls:
            l.backward()
        trainer.step(8)
        losses.append(sum(float(l.sum()) for l in ls))
    assert all(isinstance(out, np.ndarray) and out.shape == (4, 10) for out in outs)
    first = list(net.collect_params().values())[0]
    assert abs(first.grad(devices[1]).asnumpy()).sum() > 0
    assert losses[-1] < losses[0]  # three steps on one batch reduce its loss


def test_unknown_model_lists_the_choices():
    with pytest.raises(UsageError) as info:
        get_model('resnet19')
    msg = str(info.value)
    assert 'resnet18' in msg and 'cifar_resnet20_v1' in msg
