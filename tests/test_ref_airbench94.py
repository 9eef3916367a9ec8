"""scripts/ref_airbench94.py, the PyTorch reference fast94 is judged by (issue 21).

It runs under a Python that has torch, which is not a dependency of this
project: set GLUON_AUG_TORCH_PYTHON to one (e.g. a venv with `pip install
torch`), or these tests skip.
"""
import json
import os
import subprocess

import numpy as onp
import pytest

from conftest import write_cifar_bin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, 'scripts', 'ref_airbench94.py')
TORCH = os.environ.get('GLUON_AUG_TORCH_PYTHON')
pytestmark = pytest.mark.skipif(
    not TORCH, reason='needs a Python with torch: set GLUON_AUG_TORCH_PYTHON')


def run_torch(*args, timeout=600):
    return subprocess.run([TORCH, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, 'OMP_NUM_THREADS': '1'})


def test_its_whitening_filters_are_the_librarys(tmp_path):
    """The same 2x2 whitening from torch's eigh as from gluon_aug's NumPy one
    (each filter up to its sign: an eigenvector's sign is arbitrary)."""
    from gluon_aug.augment.presets import CIFAR10_MEAN, CIFAR10_STD
    from gluon_aug.models.fastnet import whitening_filters
    rng = onp.random.RandomState(0)
    raw = rng.randint(0, 256, size=(300, 32, 32, 3)).astype(onp.uint8)
    raw[:, :, 1:] = raw[:, :, :-1] // 2 + raw[:, :, 1:] // 2   # correlated neighbours
    write_cifar_bin(str(tmp_path / 'data_batch_1.bin'), raw, onp.zeros(300))
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(SCRIPT)!r}); import numpy, torch;"
            "import ref_airbench94 as r; x, _ = r.read_bin([sys.argv[1]]);"
            "c = torch.nn.Conv2d(3, 24, 2); r.init_whitening(c, x);"
            "numpy.save(sys.argv[2], c.weight.detach().numpy())")
    out = run_torch('-c', code, str(tmp_path / 'data_batch_1.bin'), str(tmp_path / 'w.npy'))
    assert out.returncode == 0, out.stderr
    theirs = onp.load(tmp_path / 'w.npy').reshape(24, -1)
    x = raw.transpose(0, 3, 1, 2) / 255.0
    x = (x - onp.array(CIFAR10_MEAN).reshape(1, 3, 1, 1)) / onp.array(CIFAR10_STD).reshape(1, 3, 1, 1)
    ours = whitening_filters(x).reshape(24, -1)
    for t, o in zip(theirs, ours):
        assert min(abs(t - o).max(), abs(t + o).max()) < 1e-3 * abs(o).max()


def test_it_learns_a_tiny_task_and_reports_every_epoch(tmp_path):
    """Two classes told apart by brightness: above chance after 4 small epochs,
    with one accuracy per epoch and the TTA one in the JSON it writes."""
    rng = onp.random.RandomState(1)
    labels = rng.randint(0, 2, size=320)
    images = (rng.randint(0, 100, size=(320, 32, 32, 3)) + 150 * labels[:, None, None, None])
    write_cifar_bin(str(tmp_path / 'data_batch_1.bin'), images, labels)
    write_cifar_bin(str(tmp_path / 'test_batch.bin'), images[:64], labels[:64])
    out = run_torch(SCRIPT, str(tmp_path), '--epochs', '4', '--batch', '64',
                    '--out', str(tmp_path / 'r.json'))
    assert out.returncode == 0, out.stderr
    result = json.load(open(tmp_path / 'r.json'))
    assert len(result['per_epoch']) == 4 and result['tta_acc'] > 0.75


def test_a_folder_without_cifar_files_is_refused_in_one_line(tmp_path):
    out = run_torch(SCRIPT, str(tmp_path))
    assert out.returncode == 2 and out.stderr.count('\n') == 1 and 'CIFAR-10' in out.stderr
