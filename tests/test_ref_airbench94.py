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
            "import ref_airbench94 as r; x, _ = r.read_bin(sys.argv[1]);"
            "c = torch.nn.Conv2d(3, 24, 2); r.init_whitening(c, x);"
            "numpy.save(sys.argv[2], c.weight.detach().numpy())")
    out = run_torch('-c', code, str(tmp_path), str(tmp_path / 'w.npy'))
    assert out.returncode == 0, out.stderr
    theirs = onp.load(tmp_path / 'w.npy').reshape(24, -1)
    x = raw.transpose(0, 3, 1, 2) / 255.0
    mean, std = (onp.array(v).reshape(1, 3, 1, 1) for v in (CIFAR10_MEAN, CIFAR10_STD))
    x = (x - mean) / std
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


TORCH_STEP = """
import sys, numpy, torch
sys.path.insert(0, sys.argv[1])
import ref_airbench94 as r
torch.manual_seed(0)
net = r.Net()
net.whiten.weight.requires_grad = False
x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
before = {k: v.detach().clone().numpy() for k, v in net.state_dict().items()}
opt = r.make_optimizer(net)                  # airbench94's, at its batch of 1024
logits = net(x)
loss = torch.nn.CrossEntropyLoss(label_smoothing=0.2, reduction='none')(logits, y).sum()
(loss * 1024 / len(x)).backward()             # as if the batch were 1024 examples
opt.step()
after = {k: v.detach().numpy() for k, v in net.state_dict().items()}
numpy.savez(sys.argv[2], x=x.numpy(), y=y.numpy(), logits=logits.detach().numpy(),
            **{'before/' + k: v for k, v in before.items()},
            **{'after/' + k: v for k, v in after.items()})
"""


def torch_name(name):
    """fastnet's structured parameter name -> the PyTorch net's state_dict key."""
    return name.replace('blocks.', 'groups.').replace('.beta', '.bias').replace('.gamma', '.weight')


def test_fastnet_wide_and_fast94s_step_compute_airbench94s(tmp_path):
    """Same weights, same batch: fastnet-wide's logits equal the PyTorch net's,
    and one step of fast94's Trainer (MXNet's nag, BatchNorm betas at 64x the lr
    and 1/64 the wd, lr and wd carried over from airbench94's per-1024 values)
    moves every parameter as torch's Nesterov SGD with airbench94's groups does.
    Tolerance: 1 % of each parameter's largest value (BatchNorm's eps is 1e-5
    here, 1e-12 there; the betas take a learning rate of 96)."""
    import types
    from gluon_aug._mxnet import autograd, mx
    from gluon_aug.models.fastnet import fastnet_wide
    from gluon_aug.run.build import make_trainer
    from gluon_aug.run.ingredients import LabelSmoothingLoss
    from gluon_aug.run.recipes import RECIPES
    out = run_torch('-c', TORCH_STEP, os.path.dirname(SCRIPT), str(tmp_path / 'step.npz'))
    assert out.returncode == 0, out.stderr
    d = onp.load(tmp_path / 'step.npz')
    recipe = RECIPES['fast94']
    net = fastnet_wide()
    net.initialize()
    net(mx.np.zeros((1, 3, 32, 32)))
    params = net._collect_params_with_prefix()
    for name, p in params.items():
        p.set_data(mx.np.array(d['before/' + torch_name(name)]))
    net.whiten.weight.grad_req = 'null'
    x, y = mx.np.array(d['x']), mx.np.array(d['y'])
    trainer = make_trainer(net, types.SimpleNamespace(lr=recipe.lr, optimizer=recipe.optimizer),
                           recipe, 'device')
    with autograd.record():
        logits = net(x)
        loss = LabelSmoothingLoss(recipe.smoothing)(logits, y).sum()
    loss.backward()
    trainer.step(len(x))
    assert abs(logits.asnumpy() - d['logits']).max() < 1e-4 * abs(d['logits']).max()
    for name, p in params.items():
        theirs = d['after/' + torch_name(name)]
        assert abs(p.data().asnumpy() - theirs).max() <= 1e-2 * abs(theirs).max(), name
