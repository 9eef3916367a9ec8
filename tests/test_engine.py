import re
import time

import numpy as onp
import pytest

import gluon_aug
from gluon_aug import (evaluate_accuracy_gpus, fit, seed_everything, train_batch_ch13,
                       train_ch13, train_with_data_aug)
from gluon_aug._mxnet import autograd, gluon, init, mx, nn, np
from gluon_aug.book.devices import split_batch
from gluon_aug.run.loop import Callback

TWO_CPUS = [mx.cpu(0), mx.cpu(1)]


def tiny_conv_net():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, kernel_size=3, padding=1, activation='relu'), nn.Dense(10))
    return net


def linear_net(num_outputs=3):
    net = nn.HybridSequential()
    net.add(nn.Dense(num_outputs))
    return net


def copy_params(src, dst, devices):
    dst.initialize(init.Zero(), ctx=devices)
    for (_, p), (_, q) in zip(sorted(src.collect_params().items()),
                              sorted(dst.collect_params().items())):
        q.set_data(p.data(mx.cpu(0)).copy())


def test_two_contexts_give_the_same_step_as_one_context_with_the_whole_batch():
    X = np.random.uniform(size=(8, 3, 8, 8))
    y = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    one = tiny_conv_net()
    one.initialize(init.Xavier(), ctx=[mx.cpu(0)])
    one(X)
    two = tiny_conv_net()
    two.initialize(init.Xavier(), ctx=TWO_CPUS)
    two(X.copyto(mx.cpu(0)))  # finish deferred init, then overwrite with one's weights
    for (_, p), (_, q) in zip(sorted(one.collect_params().items()),
                              sorted(two.collect_params().items())):
        q.set_data(p.data(mx.cpu(0)).copy())
    results = []
    for net, devices in ((one, [mx.cpu(0)]), (two, TWO_CPUS)):
        trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.5})
        results.append(train_batch_ch13(net, X, y, loss, trainer, devices))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-5)
    assert results[0][1] == results[1][1]
    for (_, p), (_, q) in zip(sorted(one.collect_params().items()),
                              sorted(two.collect_params().items())):
        for ctx in TWO_CPUS:  # both replicas hold the same updated weights
            onp.testing.assert_allclose(p.data(mx.cpu(0)).asnumpy(), q.data(ctx).asnumpy(),
                                        rtol=1e-5, atol=1e-6)
        assert abs(p.data(mx.cpu(0)).asnumpy() - q.data(mx.cpu(0)).asnumpy()).max() < 1e-5


def _softmax_ce(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - onp.log(onp.exp(z).sum(axis=1, keepdims=True))
    return -logp[onp.arange(len(y)), y], onp.exp(logp)


def test_train_batch_matches_a_hand_computed_sgd_step_and_sums():
    rng = onp.random.RandomState(0)
    Xn = rng.randn(6, 2, 2, 3).astype(onp.float32)
    yn = onp.array([0, 1, 2, 0, 1, 2])
    W0 = rng.randn(3, 12).astype(onp.float32) * 0.5
    b0 = rng.randn(3).astype(onp.float32) * 0.1
    net = linear_net()
    net.initialize(init.Zero(), ctx=TWO_CPUS)
    net(np.zeros((2, 2, 2, 3)))
    net[0].weight.set_data(np.array(W0))
    net[0].bias.set_data(np.array(b0))
    lr = 0.3
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': lr})
    loss_sum, correct = train_batch_ch13(net, np.array(Xn), np.array(yn),
                                         gluon.loss.SoftmaxCrossEntropyLoss(), trainer, TWO_CPUS)
    # Independent computation in NumPy.
    flat = Xn.reshape(6, -1)
    logits = flat @ W0.T + b0
    ce, p = _softmax_ce(logits, yn)
    assert loss_sum == pytest.approx(ce.sum(), rel=1e-5)
    assert correct == (logits.argmax(axis=1) == yn).sum()
    onehot = onp.eye(3)[yn]
    gW = (p - onehot).T @ flat / 6  # Trainer.step(6) rescales the summed gradient by 1/6
    gb = (p - onehot).sum(axis=0) / 6
    for ctx in TWO_CPUS:
        onp.testing.assert_allclose(net[0].weight.data(ctx).asnumpy(), W0 - lr * gW,
                                    rtol=1e-5, atol=1e-6)
        onp.testing.assert_allclose(net[0].bias.data(ctx).asnumpy(), b0 - lr * gb,
                                    rtol=1e-5, atol=1e-6)


def test_evaluation_uses_batchnorm_running_statistics():
    rng = onp.random.RandomState(1)
    Xn = rng.randn(16, 4).astype(onp.float32)
    mean = onp.array([3.0, -2.0, 0.5, 1.0], dtype=onp.float32)
    var = onp.array([4.0, 0.25, 1.0, 9.0], dtype=onp.float32)
    net = nn.HybridSequential()
    net.add(nn.BatchNorm(in_channels=4))
    net.initialize(ctx=TWO_CPUS)
    net[0].running_mean.set_data(np.array(mean))
    net[0].running_var.set_data(np.array(var))
    yn = ((Xn - mean) / onp.sqrt(var + 1e-5)).argmax(axis=1)  # right with running stats
    with autograd.record():  # training mode normalizes with batch statistics instead
        batch_pred = net(np.array(Xn, ctx=mx.cpu(0))).asnumpy().argmax(axis=1)
    net[0].running_mean.set_data(np.array(mean))  # undo the update made by that pass
    net[0].running_var.set_data(np.array(var))
    assert (batch_pred != yn).any(), 'data must tell the two statistics apart'
    data = gluon.data.DataLoader(gluon.data.ArrayDataset(Xn, yn.astype(onp.int32)), batch_size=8)
    assert evaluate_accuracy_gpus(net, data) == 1.0
    onp.testing.assert_allclose(net[0].running_mean.data(mx.cpu(1)).asnumpy(), mean)


class SlowLoader:
    """Yields fixed batches, sleeping before each: time the step timer must not count."""

    def __init__(self, X, y, batch_size, delay=0.0):
        self.X, self.y, self.bs, self.delay = X, y, batch_size, delay

    def __len__(self):
        return -(-len(self.y) // self.bs)

    def __iter__(self):
        for i in range(0, len(self.y), self.bs):
            time.sleep(self.delay)
            yield np.array(self.X[i:i + self.bs]), np.array(self.y[i:i + self.bs])


def _fixed_weights_run(train, capsys):
    """Run `train(net, train_iter, test_iter, loss, trainer)` with lr 0 (the weights stay
    fixed, so every figure can be computed independently); return its printed lines and
    the figures computed in NumPy."""
    rng = onp.random.RandomState(2)
    Xtr, ytr = rng.randn(10, 5).astype(onp.float32), rng.randint(0, 3, 10).astype(onp.int32)
    Xte, yte = rng.randn(7, 5).astype(onp.float32), rng.randint(0, 3, 7).astype(onp.int32)
    W0 = rng.randn(3, 5).astype(onp.float32)
    net = linear_net()
    net.initialize(init.Zero(), ctx=TWO_CPUS)
    net(np.zeros((2, 5)))
    net[0].weight.set_data(np.array(W0))
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.0})
    result = train(net, SlowLoader(Xtr, ytr, 4, delay=0.2), SlowLoader(Xte, yte, 4),
                   gluon.loss.SoftmaxCrossEntropyLoss(), trainer)
    ce, _ = _softmax_ce(Xtr @ W0.T, ytr)
    train_acc = ((Xtr @ W0.T).argmax(axis=1) == ytr).mean()
    test_acc = ((Xte @ W0.T).argmax(axis=1) == yte).mean()
    return capsys.readouterr().out.splitlines(), (ce.mean(), train_acc, test_acc), result


def _assert_books_lines(out, figures):
    loss, train_acc, test_acc = figures
    assert out[0] == f'loss {loss:.3f}, train acc {train_acc:.3f}, test acc {test_acc:.3f}'
    m = re.fullmatch(r'(\d+\.\d) examples/sec on \[cpu\(0\), cpu\(1\)\]', out[1])
    assert m, out[1]
    # 3 batches an epoch behind a 0.2 s loader: counting the loader would give < 17/s
    assert float(m.group(1)) > 50


def test_train_ch13_prints_the_books_two_lines_with_exact_values(capsys):
    out, figures, _ = _fixed_weights_run(
        lambda *args: train_ch13(*args, 2, TWO_CPUS), capsys)
    assert len(out) == 2
    _assert_books_lines(out, figures)


def test_fit_prints_the_same_lines_and_returns_a_record_per_epoch(capsys):
    out, figures, records = _fixed_weights_run(lambda *args: fit(*args, 2, TWO_CPUS), capsys)
    _assert_books_lines(out, figures)
    assert [r['epoch'] for r in records] == [1, 2]
    assert records[-1]['test_acc'] == pytest.approx(figures[2])
    assert records[-1]['train_loss'] == pytest.approx(figures[0], rel=1e-6)
    assert records[-1]['examples'] == 10


def test_fit_stops_on_a_loss_that_is_not_finite():
    net = linear_net()
    net.initialize(init.Constant(1e30), ctx=[mx.cpu(0)])
    X, y = onp.full((4, 5), 1e30, onp.float32), onp.zeros(4, onp.int32)
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
    with pytest.raises(gluon_aug.RunError, match='loss became (nan|inf) at epoch 1, batch 1'):
        fit(net, SlowLoader(X, y, 2), SlowLoader(X, y, 2), gluon.loss.SoftmaxCrossEntropyLoss(),
            trainer, 1, [mx.cpu(0)])


def test_train_ch13_handles_fewer_than_five_batches(capsys):
    net = linear_net()
    net.initialize(ctx=[mx.cpu(0)])
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
    X, y = onp.ones((3, 5), onp.float32), onp.zeros(3, onp.int32)
    train_ch13(net, SlowLoader(X, y, 2), SlowLoader(X, y, 2), gluon.loss.SoftmaxCrossEntropyLoss(),
               trainer, 1, [mx.cpu(0)])  # the book divides by num_batches // 5
    assert capsys.readouterr().out.startswith('loss ')


def _run_twice(cifar_dir, fresh_init):
    path, _ = cifar_dir
    net = linear_net(10)
    firsts = []
    for _ in range(2):
        seed_everything(7)   # the book's loader shuffles with NumPy's global generator
        animator = gluon_aug.Animator()
        if not fresh_init and not firsts:
            net.initialize(init.Xavier(), ctx=[mx.cpu(0)])
        train_with_data_aug(gluon_aug.test_augs, gluon_aug.test_augs, net, 0.01, batch_size=16,
                            num_epochs=2, devices=[mx.cpu(0)], root=path, num_workers=0,
                            fresh_init=fresh_init, animator=animator)
        firsts.append(animator.Y[0][0])   # the first train-loss point drawn
    return firsts


def test_train_with_data_aug_starts_each_comparison_from_a_fresh_net(cifar_dir, capsys):
    first, second = _run_twice(cifar_dir, fresh_init=True)
    assert first == second  # same seed, fresh Xavier init: the same first epoch
    first, second = _run_twice(cifar_dir, fresh_init=False)
    assert second != first  # the book's trap: the second run continues from trained weights


def test_fit_times_the_steps_parts_apart(capsys):
    # a split that takes 0.05 s more and an update that takes 0.2 s more, 3 steps: each part
    # must land in its own phase, and the parts must add up to the step
    rng = onp.random.RandomState(0)
    X, y = rng.randn(10, 5).astype(onp.float32), rng.randint(0, 3, 10).astype(onp.int32)
    net = linear_net()
    net.initialize(init.Normal(0.1), ctx=[mx.cpu(0)])
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
    update = trainer.step

    def slow_update(*args, **kwargs):
        time.sleep(0.2)
        update(*args, **kwargs)

    def slow_split(X, y, devices):
        time.sleep(0.05)
        return split_batch(X, y, devices)

    trainer.step = slow_update
    records = fit(net, SlowLoader(X, y, 4, delay=0.1), SlowLoader(X, y, 4),
                  gluon.loss.SoftmaxCrossEntropyLoss(), trainer, 1, [mx.cpu(0)], slow_split,
                  eval_split_f=split_batch)
    phases = records[0]['phase_seconds']
    assert 0.6 <= phases['step.optimizer'] < 0.6 + 0.3
    assert 0.15 <= phases['step.split'] < 0.15 + 0.3
    assert 0 <= phases['step.forward_backward'] < 0.3
    assert phases['step.split'] + phases['step.forward_backward'] + phases['step.optimizer'] \
        == pytest.approx(phases['step'])
    assert phases['load'] >= 0.3 > phases['step.forward_backward']   # the loader's sleeps


@pytest.mark.parametrize('eval_every, evaluated', [(1, [1, 2, 3, 4, 5]), (2, [2, 4, 5]),
                                                    (0, [5]), (7, [5])])
def test_fit_evaluates_after_every_nth_epoch_and_the_last(eval_every, evaluated, capsys):
    rng = onp.random.RandomState(0)
    X, y = rng.randn(8, 5).astype(onp.float32), rng.randint(0, 3, 8).astype(onp.int32)
    net = linear_net()
    net.initialize(init.Normal(0.1), ctx=[mx.cpu(0)])
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})

    class Seen(Callback):
        epochs = []

        def on_evaluate_start(self, epoch):
            self.epochs.append(epoch + 1)

    records = fit(net, SlowLoader(X, y, 4), SlowLoader(X, y, 4),
                  gluon.loss.SoftmaxCrossEntropyLoss(), trainer, 5, [mx.cpu(0)],
                  callbacks=[Seen()], eval_every=eval_every)
    assert Seen.epochs == evaluated
    assert [r['epoch'] for r in records if r['test_acc'] is not None] == evaluated
    assert all(0 <= r['test_acc'] <= 1 for r in records if r['test_acc'] is not None)
    # the book's closing line: the last epoch's test accuracy, always evaluated
    assert f"test acc {records[-1]['test_acc']:.3f}" in capsys.readouterr().out
    from gluon_aug.results.run_folder import METRICS_PARTS
    assert METRICS_PARTS['epochs'](records)   # evaluate/predict/export read such a run
