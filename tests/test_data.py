import os

import numpy as onp
import pytest

import gluon_aug
from gluon_aug import CIFAR10, UsageError, load_cifar10
from gluon_aug.data.cifar import check_cifar_folder, read_cifar_bin
from conftest import write_cifar_bin
from conftest import SUBSET


def test_binary_reader_round_trips_a_generated_file(tmp_path):
    rng = onp.random.RandomState(1)
    imgs = rng.randint(0, 256, size=(7, 32, 32, 3)).astype(onp.uint8)
    labels = onp.arange(7) % 10
    path = str(tmp_path / 'data_batch_1.bin')
    write_cifar_bin(path, imgs, labels)
    assert os.path.getsize(path) == 7 * 3073
    # Independent check of the layout: label byte, then R plane, G plane, B plane.
    raw = onp.fromfile(path, dtype=onp.uint8).reshape(7, 3073)
    assert (raw[:, 0] == labels).all()
    assert (raw[3, 1:1025] == imgs[3, :, :, 0].ravel()).all()
    assert (raw[3, 2049:] == imgs[3, :, :, 2].ravel()).all()
    got_imgs, got_labels = read_cifar_bin(path)
    assert got_imgs.dtype == onp.uint8 and got_imgs.shape == (7, 32, 32, 3)
    assert (got_imgs == imgs).all() and (got_labels == labels).all()
    assert got_labels.dtype == onp.int32


def test_dataset_reads_all_train_batches_in_order_as_hwc_uint8(cifar_dir):
    path, written = cifar_dir
    train, test = CIFAR10(path, train=True), CIFAR10(path, train=False)
    assert len(train) == 64 and len(test) == 20
    img, label = train[45]  # from data_batch_2: order is batch 1 then batch 2
    assert img.shape == (32, 32, 3) and img.dtype == onp.uint8
    assert (img.asnumpy() == written['train'][0][45]).all()
    assert label == written['train'][1][45]
    assert (test[3][0].asnumpy() == written['test'][0][3]).all()


def test_dataset_supports_transform_first(cifar_dir):
    path, written = cifar_dir
    ds = CIFAR10(path, train=False).transform_first(gluon_aug.test_augs)
    x, y = ds[0]
    assert x.shape == (3, 32, 32) and x.dtype == onp.float32
    onp.testing.assert_allclose(x.asnumpy(), written['test'][0][0].transpose(2, 0, 1) / 255.0,
                                rtol=1e-6)


def test_dataset_accepts_extracted_archive_folder(tmp_path):
    from conftest import make_cifar_folder
    make_cifar_folder(str(tmp_path / 'cifar-10-batches-bin'))
    assert len(CIFAR10(str(tmp_path), train=True)) == 40


def test_truncated_file_is_rejected_naming_the_file(cifar_dir):
    path, _ = cifar_dir
    bad = os.path.join(path, 'data_batch_2.bin')
    with open(bad, 'r+b') as f:
        f.truncate(3073 * 3 + 100)
    with pytest.raises(UsageError, match=r'data_batch_2\.bin is corrupt: 9319 bytes'):
        CIFAR10(path, train=True)
    with pytest.raises(UsageError, match='data_batch_2.bin'):
        check_cifar_folder(path)
    CIFAR10(path, train=False)  # the test split is intact and still loads


def test_label_outside_0_9_is_rejected_naming_file_and_record(cifar_dir):
    path, _ = cifar_dir
    bad = os.path.join(path, 'test_batch.bin')
    raw = onp.fromfile(bad, dtype=onp.uint8).reshape(-1, 3073)
    raw[5, 0] = 12
    raw.tofile(bad)
    with pytest.raises(UsageError, match=r'test_batch\.bin is corrupt: record 5 has label 12'):
        CIFAR10(path, train=False)


@pytest.mark.parametrize('label, ok', [(9, True), (10, False), (255, False)])
def test_the_label_check_sits_exactly_between_9_and_10(cifar_dir, label, ok):
    """9 is the last valid class, 10 the first invalid one."""
    path, _ = cifar_dir
    bad = os.path.join(path, 'test_batch.bin')
    raw = onp.fromfile(bad, dtype=onp.uint8).reshape(-1, 3073)
    raw[3, 0] = label
    raw.tofile(bad)
    if ok:
        assert CIFAR10(path, train=False)[3][1] == 9
        check_cifar_folder(path)
    else:
        with pytest.raises(UsageError, match=rf'record 3 has label {label}'):
            check_cifar_folder(path)


def test_missing_test_file_and_empty_folder_are_clear_errors(cifar_dir, tmp_path):
    path, _ = cifar_dir
    os.remove(os.path.join(path, 'test_batch.bin'))
    with pytest.raises(UsageError, match='test_batch.bin.*is missing'):
        CIFAR10(path, train=True)
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(UsageError, match='no CIFAR-10 training files'):
        CIFAR10(str(empty))
    with pytest.raises(UsageError, match='does not exist'):
        CIFAR10(str(tmp_path / 'nope'))


def _labels_in_order(loader):
    return onp.concatenate([y.asnumpy() for _, y in loader])


def test_load_cifar10_shuffles_only_when_training(cifar_dir):
    path, written = cifar_dir
    test_iter = load_cifar10(False, gluon_aug.test_augs, 8, path, num_workers=0)
    assert (_labels_in_order(test_iter) == written['test'][1]).all()
    train_iter = load_cifar10(True, gluon_aug.test_augs, 8, path, num_workers=0)
    orders = [_labels_in_order(train_iter) for _ in range(3)]
    assert all(sorted(o) == sorted(written['train'][1]) for o in orders)
    assert any((o != written['train'][1]).any() for o in orders)
    X, y = next(iter(train_iter))
    assert X.shape == (8, 3, 32, 32) and X.dtype == onp.float32


def test_load_cifar10_limit_keeps_the_first_examples(cifar_dir):
    path, written = cifar_dir
    it = load_cifar10(False, gluon_aug.test_augs, 4, path, num_workers=0, limit=6)
    assert (_labels_in_order(it) == written['test'][1][:6]).all()
    with pytest.raises(UsageError, match='at least 1'):
        load_cifar10(False, gluon_aug.test_augs, 4, path, limit=0)


def test_load_cifar10_with_worker_processes_yields_every_example(cifar_dir):
    path, written = cifar_dir
    it = load_cifar10(False, gluon_aug.test_augs, 8, path, num_workers=2)
    assert (_labels_in_order(it) == written['test'][1]).all()


@pytest.mark.skipif(not os.path.isdir(SUBSET), reason=f'shared CIFAR-10 subset not found at {SUBSET}')
def test_shared_subset_loads_with_expected_counts():
    train, test = CIFAR10(SUBSET, train=True), CIFAR10(SUBSET, train=False)
    assert (len(train), len(test)) == (10000, 2000)
    # class counts from the subset's README
    counts = onp.bincount(train._label, minlength=10)
    assert counts[0] == 1004 and counts[5] == 1055


@pytest.mark.parametrize('name, kind', [('data_batch_1.bin', 'folder'),
                                        ('test_batch.bin', 'fifo'),
                                        ('test_batch.bin', 'dangling link')])
def test_a_data_file_that_is_not_a_regular_file_is_said_so(cifar_dir, name, kind):
    path, _ = cifar_dir
    target = os.path.join(path, name)
    os.remove(target)
    if kind == 'folder':
        os.mkdir(target)
    elif kind == 'fifo':
        os.mkfifo(target)            # reading it would wait for ever
    else:
        os.symlink(os.path.join(path, 'nowhere'), target)
    with pytest.raises(UsageError, match=f"{name}' is not a regular file") as err:
        check_cifar_folder(path)
    assert 'corrupt' not in str(err.value) and 'missing' not in str(err.value)
