import pytest

from gluon_aug import UsageError, parse_devices, split_batch, try_all_gpus, try_gpu
from gluon_aug._mxnet import mx, np, npx
from gluon_aug.book.devices import num_gpus

no_gpu = pytest.mark.skipif(num_gpus() > 0, reason='checks the behaviour without GPUs')


@no_gpu
def test_try_all_gpus_falls_back_to_one_cpu_as_documented():
    assert try_all_gpus() == [npx.cpu()]
    assert try_gpu(0) == npx.cpu()
    assert parse_devices(None) == [npx.cpu()]


@pytest.mark.parametrize('spec, expected', [
    ('cpu', [mx.cpu(0)]),
    ('cpu:2', [mx.cpu(0), mx.cpu(1)]),
    ('CPU:3', [mx.cpu(0), mx.cpu(1), mx.cpu(2)]),
    ('cpu:0,1', [mx.cpu(0), mx.cpu(1)]),
    ('cpu:1,', [mx.cpu(1)]),
])
def test_cpu_specs(spec, expected):
    assert parse_devices(spec) == expected


@no_gpu
@pytest.mark.parametrize('spec', ['gpu', 'gpu:2', 'gpu:0,1', 'gpu(0)', 'gpu(0),gpu(1)'])
def test_asking_for_missing_gpus_is_a_clear_error(spec):
    with pytest.raises(UsageError, match='--devices cpu'):
        parse_devices(spec)


@pytest.mark.parametrize('spec', ['tpu', 'cpu:', 'cpu:x', 'cpu:0', 'cpu:1,1', 'gpu:-1', 'cpu;2'])
def test_malformed_specs_are_rejected_with_the_grammar(spec):
    with pytest.raises(UsageError) as info:
        parse_devices(spec)
    assert 'cpu:N' in str(info.value)


def test_split_batch_splits_evenly_across_contexts():
    X = np.arange(24).reshape(6, 4)
    y = np.arange(6)
    devices = [mx.cpu(0), mx.cpu(1)]
    X_shards, y_shards = split_batch(X, y, devices)
    assert [x.ctx for x in X_shards] == devices
    assert X_shards[1].asnumpy().tolist() == X[3:].asnumpy().tolist()
    assert y_shards[0].asnumpy().tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match='5 labels'):
        split_batch(X, np.arange(5), devices)


def test_split_batch_splits_uneven_and_tiny_batches_instead_of_raising():
    devices = [mx.cpu(0), mx.cpu(1), mx.cpu(2)]
    X_shards, y_shards = split_batch(np.arange(7), np.arange(7), devices)
    assert sorted(len(s) for s in X_shards) == [2, 2, 3]
    assert [v for s in y_shards for v in s.asnumpy().tolist()] == list(range(7))
    X_shards, _ = split_batch(np.arange(2), np.arange(2), devices)
    assert [len(s) for s in X_shards] == [1, 1]
