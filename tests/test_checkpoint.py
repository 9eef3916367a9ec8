"""The checkpoint: an exact round trip of the optimizer, no code run when loading, and
one line for every checkpoint, disk or data problem."""
import errno
import io
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import zipfile

import numpy as onp
import pytest

from gluon_aug import files
from gluon_aug.run import checkpoint, checkpoint_file
from gluon_aug._mxnet import autograd, gluon, init, mx, nn, np
from gluon_aug.errors import RunError
from gluon_aug.run.loop import Position

from conftest import (ROOT, assert_one_line_error, cifar_folder_for_module, make_cifar_folder,
                      run_module)

RUN = ['--model', 'cifar_resnet20_v1', '--epochs', '2', '--batch-size', '16', '--devices', 'cpu',
       '--no-progress', '--seed', '5', '--checkpoint-every', '1', '-j', '0']


# -- the optimizer's state round trip, in process -------------------------------------

def _net(devices, names=('first_', 'second_')):
    net = nn.HybridSequential()
    net.add(nn.Dense(6, activation='relu', prefix=names[0]), nn.BatchNorm(),
            nn.Dense(3, prefix=names[1]))
    net.initialize(init.Xavier(), ctx=devices)
    return net


def _steps(net, trainer, devices, batches):
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    for X, y in batches:
        xs = gluon.utils.split_and_load(np.array(X), devices)
        ys = gluon.utils.split_and_load(np.array(y), devices)
        with autograd.record():
            ls = [loss(net(a), b) for a, b in zip(xs, ys)]
        for l in ls:
            l.backward()
        trainer.step(len(y))


OPTIMIZERS = [('adam', {'learning_rate': 0.01}),
              ('sgd', {'learning_rate': 0.1, 'momentum': 0.9, 'wd': 1e-3}),
              ('nag', {'learning_rate': 0.1, 'momentum': 0.9, 'wd': 1e-3})]


@pytest.mark.parametrize('optimizer, hyper', OPTIMIZERS, ids=[o for o, _ in OPTIMIZERS])
@pytest.mark.parametrize('num_devices', [1, 2])
def test_restored_optimizer_continues_bitwise(optimizer, hyper, num_devices, tmp_path):
    devices = [mx.cpu(i) for i in range(num_devices)]
    rng = onp.random.RandomState(0)
    batches = [(rng.randn(8, 5).astype('float32'), rng.randint(0, 3, 8).astype('float32'))
               for _ in range(6)]
    mx.random.seed(1)
    net = _net(devices)
    net(np.zeros((2, 5), ctx=devices[0]))
    trainer = gluon.Trainer(net.collect_params(), optimizer, dict(hyper))
    _steps(net, trainer, devices, batches[:3])
    info = {'config': {'run': 'test'}, 'workers': 1, 'data': {}}
    saver = checkpoint.Checkpointer(str(tmp_path), net, trainer, info)
    saver.save(Position(0, 3, [1.0, 2.0, 3.0, 4.0]))
    _steps(net, trainer, devices, batches[3:])
    want = [d.asnumpy() for p in net.collect_params().values() for d in p.list_data()]

    mx.random.seed(2)   # another initialization: everything must come from the file
    # Gluon's names count the blocks a process made (dense9, dense10...), and the
    # Trainer sorts by name: the same net made again may sort its layers otherwise
    again = _net(devices, names=('z_', 'a_'))
    again(np.zeros((2, 5), ctx=devices[0]))
    trainer2 = gluon.Trainer(again.collect_params(), optimizer, dict(hyper))
    state, arrays = checkpoint_file.load_checkpoint(str(tmp_path))
    position = checkpoint.Checkpointer(str(tmp_path), again, trainer2, {}).restore(state, arrays)
    assert position == Position(0, 3, [1.0, 2.0, 3.0, 4.0]) and state['info'] == info
    _steps(again, trainer2, devices, batches[3:])
    got = [d.asnumpy() for p in again.collect_params().values() for d in p.list_data()]
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.tobytes() == b.tobytes()


class FullDisk:
    """A file (in place of ``open`` in gluon_aug.files) whose writes fail with ENOSPC."""

    def __init__(self, *a, **k):
        self.f = open(*a, **k)

    def write(self, data):
        raise OSError(errno.ENOSPC, 'No space left on device')

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_a_full_disk_keeps_the_previous_file_and_raises_run_error(tmp_path, monkeypatch):
    checkpoint_file.save_checkpoint(str(tmp_path), {'n': 1}, {})
    path = tmp_path / checkpoint_file.FILENAME
    old = path.read_bytes()

    monkeypatch.setattr(files, 'open', FullDisk, raising=False)
    with pytest.raises(RunError, match='the disk is full.*previous checkpoint is kept.*--resume'):
        checkpoint_file.save_checkpoint(str(tmp_path), {'n': 2}, {})
    assert path.read_bytes() == old and os.listdir(tmp_path) == [checkpoint_file.FILENAME]


# -- refused checkpoints, through the command line --------------------------------------

@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return cifar_folder_for_module(tmp_path_factory, (48,), 16)


@pytest.fixture(scope='module')
def interrupted(data, tmp_path_factory):
    """A run killed after its second step: a folder holding a real checkpoint."""
    out = str(tmp_path_factory.mktemp('interrupted') / 'run')
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'killpoint.py'),
                           'batch:2', '--data', data, '--out', out, *RUN], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return out


def _copy(run, tmp_path):
    dst = str(tmp_path / 'run')
    shutil.copytree(run, dst)
    return dst


class Payload:
    """Unpickling this creates a file: what a crafted checkpoint would do."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, 'w'))


@pytest.mark.parametrize('how', ['pickle', 'object-array'])
def test_a_checkpoint_carrying_a_pickle_payload_is_refused_and_runs_nothing(how, data,
                                                                           interrupted,
                                                                           tmp_path):
    out, target = _copy(interrupted, tmp_path), tmp_path / 'pwned'
    path = os.path.join(out, 'checkpoint.npz')
    if how == 'pickle':   # the old format: a pickle file
        with open(path, 'wb') as f:
            pickle.dump({'state': Payload(str(target))}, f)
    else:                 # a NumPy archive whose 'state' is an object array
        onp.savez(path, state=onp.array([Payload(str(target))], dtype=object))
    proc = run_module('train.cifar', '--data', data, *RUN, '--resume', out)
    assert_one_line_error(proc, 'checkpoint.npz is corrupt or not a gluon_aug checkpoint')
    assert not target.exists()


@pytest.mark.parametrize('how, needle', [
    ('empty', 'is corrupt'), ('truncated', 'is corrupt'),
    ('version', 'has format version 999'), ('no-state', 'is corrupt')])
def test_empty_truncated_and_foreign_checkpoints_are_one_line(how, needle, data, interrupted,
                                                              tmp_path):
    out = _copy(interrupted, tmp_path)
    path = os.path.join(out, 'checkpoint.npz')
    blob = open(path, 'rb').read()
    if how == 'empty':
        open(path, 'wb').close()
    elif how == 'truncated':
        open(path, 'wb').write(blob[:len(blob) // 2])
    else:
        with onp.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        state = json.loads(arrays.pop('state').tobytes())
        state['version'] = 999
        if how == 'version':
            arrays['state'] = onp.frombuffer(json.dumps(state).encode(), dtype=onp.uint8)
        onp.savez(path, **arrays)
    proc = run_module('train.cifar', '--data', data, *RUN, '--resume', out)
    assert_one_line_error(proc, 'checkpoint.npz', needle)


def test_resuming_on_other_data_is_one_line(data, interrupted, tmp_path):
    out = _copy(interrupted, tmp_path)
    other = str(tmp_path / 'other')
    make_cifar_folder(other, n_train=(48,), n_test=16, seed=1)   # same layout, other pixels
    proc = run_module('train.cifar', '--data', other, *RUN, '--resume', out)
    assert_one_line_error(proc, 'was trained on other data: data_batch_1.bin')


def test_a_full_disk_during_a_checkpoint_ends_with_one_line_and_keeps_the_last(data,
                                                                               tmp_path):
    out = str(tmp_path / 'run')
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'killpoint.py'),
                           'enospc:3', '--data', data, '--out', out, *RUN], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and 'Traceback' not in proc.stderr, proc.stderr
    assert 'the disk is full' in lines[0]
    assert sorted(os.listdir(out)) == ['.lock', 'checkpoint.npz']   # no temporary file left
    state, _ = checkpoint_file.load_checkpoint(out)
    assert (state['epoch'], state['batch']) == (0, 2)       # the second write, intact


# -- data and folders ---------------------------------------------------------------------

def test_unreadable_data_file_and_folder_are_one_line(data, monkeypatch):
    from gluon_aug.data import cifar as data_module
    from gluon_aug.errors import UsageError

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, 'Permission denied')
    with monkeypatch.context() as m:
        m.setattr(data_module.onp, 'memmap', denied)
        with pytest.raises(UsageError, match=r'cannot read .*data_batch_1\.bin \(Permission '
                                             r'denied\); give this user read access'):
            data_module.check_cifar_folder(data)
    monkeypatch.setattr(data_module.os, 'listdir', denied)
    with pytest.raises(UsageError, match='cannot read .* \\(Permission denied\\)'):
        data_module.check_cifar_folder(data)


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads files whatever their mode')
def test_unreadable_data_file_for_real_is_one_line(data, tmp_path):
    copy = str(tmp_path / 'data')
    shutil.copytree(data, copy)
    os.chmod(os.path.join(copy, 'data_batch_1.bin'), 0)
    proc = run_module('train.cifar', '--data', copy, *RUN)
    assert_one_line_error(proc, 'cannot read', 'Permission denied')


def test_a_failed_download_leaves_no_out_folder(tmp_path):
    import socket
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()   # nothing listens there: the first source fails at once
    out = tmp_path / 'run'
    proc = run_module('train.cifar', '--out', str(out), '--devices', 'cpu', '--no-progress',
                      env={'MXNET_HOME': str(tmp_path / 'home'),
                           'MXNET_GLUON_REPO': f'http://127.0.0.1:{port}/'}, timeout=200)
    assert_one_line_error(proc, 'could not be downloaded', '--data DIR')
    assert not out.exists()


# -- bounded reading: nothing is allocated or decoded before it is checked --------------

def _rewrite(path, arrays, state=None, compression=zipfile.ZIP_STORED, extra=None):
    """Write a checkpoint archive by hand: `arrays`, `state` (JSON), `extra` raw members."""
    with zipfile.ZipFile(path, 'w', compression=compression) as z:
        members = dict(arrays)
        if state is not None:
            members['state'] = onp.frombuffer(json.dumps(state).encode(), dtype=onp.uint8)
        for name, value in members.items():
            buf = io.BytesIO()
            onp.lib.format.write_array(buf, onp.asarray(value), allow_pickle=False)
            z.writestr(name + '.npy', buf.getvalue())
        for name, blob in (extra or {}).items():
            z.writestr(name, blob)


def _saved(interrupted):
    with onp.load(os.path.join(interrupted, 'checkpoint.npz')) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(arrays.pop('state').tobytes()), arrays


def _huge_header(shape):
    """An .npy member whose header claims `shape` float32 but holds 16 bytes."""
    buf = io.BytesIO()
    onp.lib.format.write_array_header_1_0(buf, {'descr': '<f4', 'fortran_order': False,
                                                'shape': shape})
    return buf.getvalue() + b'\0' * 16


@pytest.mark.parametrize('how, needle', [
    ('deflated', "compressed; checkpoints store their arrays as they are"),
    ('huge-header', "declaring (1000000000000,) float32"),
    ('unexpected', "holds 'notes.txt', which no checkpoint holds"),
    ('epoch-string', "bad 'epoch' field"),
    ('batch-nan', "bad 'sums' field"),
    ('info-null', "bad 'info' field"),
    ('nested', 'RecursionError'),
])
def test_hostile_checkpoints_are_refused_before_they_are_read(how, needle, interrupted,
                                                              tmp_path):
    from gluon_aug.errors import UsageError
    state, arrays = _saved(interrupted)
    out = tmp_path / 'run'
    out.mkdir()
    path = str(out / checkpoint_file.FILENAME)
    if how == 'deflated':   # a small file that would inflate in memory
        _rewrite(path, arrays, state, compression=zipfile.ZIP_DEFLATED)
    elif how == 'huge-header':
        arrays.pop('param/0/0')
        _rewrite(path, arrays, state, extra={'param/0/0.npy': _huge_header((10 ** 12,))})
    elif how == 'unexpected':
        _rewrite(path, arrays, state, extra={'notes.txt': b'hello'})
    elif how == 'nested':
        blob = ('[' * 100000 + ']' * 100000).encode()
        _rewrite(path, arrays, extra={'state.npy': _npy(onp.frombuffer(blob, onp.uint8))})
    else:
        state = dict(state, **{'epoch-string': {'epoch': '1'},
                               'batch-nan': {'sums': [float('nan'), 1.0, 2.0, 3.0]},
                               'info-null': {'info': None}}[how])
        _rewrite(path, arrays, state)
    with pytest.raises(UsageError, match=re.escape(needle)):
        checkpoint_file.load_checkpoint(str(out))


def _npy(array):
    buf = io.BytesIO()
    onp.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def test_a_checkpoint_written_by_this_version_passes_the_checks(interrupted):
    state, arrays = checkpoint_file.load_checkpoint(interrupted)
    assert state['version'] == checkpoint_file.VERSION and any(k.startswith('opt/') for k in arrays)


def test_a_full_disk_at_the_first_checkpoint_does_not_promise_a_resume(tmp_path, monkeypatch):
    monkeypatch.setattr(files, 'open', FullDisk, raising=False)
    with pytest.raises(RunError, match='no checkpoint was written yet.*start again') as err:
        checkpoint_file.save_checkpoint(str(tmp_path), {'n': 1}, {})
    assert '--resume' not in str(err.value) and os.listdir(tmp_path) == []


def test_a_format_version_that_is_not_a_number_is_called_corrupt(interrupted, tmp_path):
    from gluon_aug.errors import UsageError
    state, arrays = _saved(interrupted)
    out = tmp_path / 'run'
    out.mkdir()
    _rewrite(str(out / checkpoint_file.FILENAME), arrays, dict(state, version='2'))
    with pytest.raises(UsageError, match="its format version is '2', not a number") as err:
        checkpoint_file.load_checkpoint(str(out))
    assert 'reads' not in str(err.value)
