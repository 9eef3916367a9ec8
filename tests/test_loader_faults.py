"""A DataLoader worker that dies, or a transform that raises, ends the run promptly."""
import os
import signal
import time

import pytest

import gluon_aug
from gluon_aug import RunError
from gluon_aug.data.loaders import cifar_loader
from conftest import cifar_folder_for_module


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return cifar_folder_for_module(tmp_path_factory, (64,), 8)


def slow_flip(img):
    time.sleep(0.2)  # keeps the workers busy, so a kill loses a batch in flight
    return gluon_aug.train_augs(img)


def test_killed_worker_is_a_clear_error_within_the_loader_timeout(data):
    loader = cifar_loader(True, slow_flip, 4, data, num_workers=2, timeout=3, seed=0)
    it = iter(loader)
    next(it)
    pool = loader._worker_pool
    for proc in pool._pool:  # kill the workers mid-batch: their batches are lost
        os.kill(proc.pid, signal.SIGKILL)
    start = time.time()
    with pytest.raises(RunError, match='no batch from the DataLoader workers within 3 s|'
                       'a DataLoader worker died while sending'):
        for _ in it:
            pass
    assert time.time() - start < 3 * 16 + 10  # bounded by the timeout per pending batch


def test_transform_that_raises_names_the_example(data):
    def broken(img):
        raise ValueError('bad pixel')
    loader = cifar_loader(False, broken, 4, data, num_workers=2, timeout=20, seed=0)
    with pytest.raises(RuntimeError, match=r'augmentation failed on example [0-3]: ValueError'):
        next(iter(loader))


@pytest.mark.parametrize('kwargs', [{'num_workers': 0}, {'num_workers': 2, 'thread_pool': True}])
def test_fallbacks_without_worker_processes_load_everything(data, kwargs):
    loader = cifar_loader(True, gluon_aug.train_augs, 16, data, seed=1, timeout=120, **kwargs)
    assert sum(len(y) for _, y in loader) == 64
