"""Shared fixtures: tiny generated CIFAR-10 folders and the shared real data."""
import json
import os
import subprocess
import sys

import numpy as onp
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), 'shared', 'data')
SUBSET = os.path.join(SHARED, 'cifar10-subset')
CAT = os.path.join(SHARED, 'images', 'cat1.jpg')


def write_cifar_bin(path, images, labels):
    """Write (N, 32, 32, 3) uint8 images and labels in the binary layout."""
    images = onp.asarray(images, dtype=onp.uint8)
    records = onp.empty((len(images), 3073), dtype=onp.uint8)
    records[:, 0] = onp.asarray(labels, dtype=onp.uint8)
    records[:, 1:] = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    records.tofile(path)


def make_cifar_folder(path, n_train=(40,), n_test=20, seed=0):
    """Write data_batch_{1..k}.bin with n_train[i] records each and test_batch.bin.

    Returns {'train': (images, labels), 'test': (images, labels)} as written.
    """
    rng = onp.random.RandomState(seed)
    os.makedirs(path, exist_ok=True)
    written = {}
    parts = []
    for i, n in enumerate(n_train, start=1):
        imgs = rng.randint(0, 256, size=(n, 32, 32, 3)).astype(onp.uint8)
        labels = rng.randint(0, 10, size=n)
        write_cifar_bin(os.path.join(path, f'data_batch_{i}.bin'), imgs, labels)
        parts.append((imgs, labels))
    written['train'] = (onp.concatenate([p[0] for p in parts]),
                        onp.concatenate([p[1] for p in parts]))
    imgs = rng.randint(0, 256, size=(n_test, 32, 32, 3)).astype(onp.uint8)
    labels = rng.randint(0, 10, size=n_test)
    write_cifar_bin(os.path.join(path, 'test_batch.bin'), imgs, labels)
    written['test'] = (imgs, labels)
    return written


def cifar_folder_for_module(tmp_path_factory, n_train, n_test):
    """A generated CIFAR-10 folder for a module-scoped fixture; returns its path."""
    path = str(tmp_path_factory.mktemp('cifar'))
    make_cifar_folder(path, n_train=n_train, n_test=n_test)
    return path


@pytest.fixture
def cifar_dir(tmp_path):
    path = tmp_path / 'cifar'
    written = make_cifar_folder(str(path), n_train=(40, 24), n_test=20)
    return str(path), written


def read_json(path):
    with open(path) as f:
        return json.load(f)


def run_module(*args, env=None, timeout=600, cwd=ROOT):
    """Run `python -m ...` from the repo root; return CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, '-m', *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def run_script(path, *args, env=None, timeout=600):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, os.path.join(ROOT, path), *args], cwd=ROOT,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


def descendants(pid):
    """Every process below `pid` (Linux /proc), children first."""
    found = []
    try:
        tasks = os.listdir(f'/proc/{pid}/task')
    except OSError:   # it has ended
        return found
    for task in tasks:
        try:
            with open(f'/proc/{pid}/task/{task}/children') as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid] + descendants(kid)
    return found


def assert_one_line_error(proc, *needles):
    """Exit 2, no traceback, exactly one line on stderr, containing `needles`."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert 'Traceback' not in proc.stderr, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# -- tiny finished runs (python -m train.cifar --out), trained once per session -----------

@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """64 training and 48 test images of noise with random labels."""
    return cifar_folder_for_module(tmp_path_factory, (64,), 48)


def train_tiny_run(tmp_path_factory, data, name, **config):
    from gluon_aug import RunConfig, run_cifar
    out = str(tmp_path_factory.mktemp('runs') / name)
    settings = dict(data=data, model='cifar_resnet20_v1', epochs=2, batch_size=8, seed=2,
                    num_workers=0, progress=False, out=out)
    run_cifar(RunConfig(**dict(settings, **config)))
    return out


@pytest.fixture(scope='session')
def run_cpu2(tmp_path_factory, tiny_data):
    """Split-batch on two CPU contexts, evaluated on the first 40 of the 48 test
    images (--limit-test). Two examples per device and step make the devices'
    BatchNorm statistics differ enough that their average (model.params) changes
    7 of the 40 predictions here (seen; the count depends on the machine)."""
    return train_tiny_run(tmp_path_factory, tiny_data, 'cpu2', devices='cpu:2', limit_test=40,
                          batch_size=4, seed=4)


@pytest.fixture(scope='session')
def run_cpu1(tmp_path_factory, tiny_data):
    """One device: model.params is exactly the net the run evaluated."""
    return train_tiny_run(tmp_path_factory, tiny_data, 'cpu1', devices='cpu')


@pytest.fixture(scope='session')
def run_resnet18(tmp_path_factory, tiny_data):
    """d2l's ResNet-18 (numpy-mode HybridBlock), one step on 8 images."""
    return train_tiny_run(tmp_path_factory, tiny_data, 'resnet18', model='resnet18', epochs=1,
                          devices='cpu', limit_train=8, limit_test=16)


@pytest.fixture(scope='session')
def run_fast(tmp_path_factory, tiny_data):
    """The fast recipe (fastnet, array loader, lookahead, TTA at the last epoch)."""
    return train_tiny_run(tmp_path_factory, tiny_data, 'fast', recipe='fast', model=None,
                          devices='cpu')
