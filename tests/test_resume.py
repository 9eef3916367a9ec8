"""Seeded runs repeat exactly; a run killed with SIGKILL and resumed ends bitwise
identical to one never interrupted; bad resumes are refused with one line."""
import hashlib
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from conftest import cifar_folder_for_module, ROOT, assert_one_line_error, read_json, run_module

RUN = ['--model', 'cifar_resnet20_v1', '--epochs', '3', '--batch-size', '16',
       '--devices', 'cpu:2', '--no-progress', '--seed', '5', '--checkpoint-every', '1']
TIMING = {'examples_per_sec', 'epoch_seconds', 'wall_seconds', 'load_average', 'phase_seconds',
          'examples_stepped'}   # how the run was timed or interrupted, not what it computed
CHECKPOINT = 'checkpoint.npz'


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return cifar_folder_for_module(tmp_path_factory, (48,), 16)  # 3 batches an epoch


def outcome(out):
    """What must be identical between runs: final parameters, metrics but timings."""
    metrics = read_json(os.path.join(out, 'metrics.json'))
    epochs = [{k: v for k, v in e.items() if k not in TIMING} for e in metrics['epochs']]
    final = {k: v for k, v in metrics['final'].items() if k not in TIMING}
    with open(os.path.join(out, 'model.params'), 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest(), epochs, final


@pytest.fixture(scope='module')
def reference(data, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('ref') / 'run')
    proc = run_module('train.cifar', '--data', data, '--out', out, '-j', '0', *RUN)
    assert proc.returncode == 0, proc.stderr
    return outcome(out), proc.stdout.splitlines()[-2]


def test_same_seed_repeats_exactly_with_0_or_2_loader_workers(data, reference, tmp_path):
    for workers in ('2', '0'):
        out = str(tmp_path / f'j{workers}')
        proc = run_module('train.cifar', '--data', data, '--out', out, '-j', workers, *RUN)
        assert proc.returncode == 0, proc.stderr
        assert outcome(out) == reference[0]


def test_without_seed_runs_differ_and_record_their_seed(data, tmp_path):
    seeds, params = [], []
    args = [a for a in RUN if a not in ('--seed', '5')] + ['--epochs', '1', '-j', '0']
    for n in range(2):
        out = str(tmp_path / f'r{n}')
        proc = run_module('train.cifar', '--data', data, '--out', out, *args)
        assert proc.returncode == 0, proc.stderr
        seeds.append(read_json(os.path.join(out, 'metrics.json'))['config']['seed'])
        params.append(outcome(out)[0])
    assert seeds[0] != seeds[1] and params[0] != params[1]
    # the recorded seed repeats the run
    out = str(tmp_path / 'again')
    proc = run_module('train.cifar', '--data', data, '--out', out, *args, '--seed', str(seeds[0]))
    assert proc.returncode == 0, proc.stderr
    assert outcome(out)[0] == params[0]


def killed_at(die_at, *args):
    """Run `python -m train.cifar ARGS` through tests/killpoint.py, dying at `die_at`."""
    return subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'killpoint.py'), die_at,
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def _killed_then_resumed(data, out, die_at=None, kill_after_checkpoint=None):
    args = ['--data', data, '-j', '0', *RUN, '--out', out]
    if die_at:
        first = killed_at(die_at, *args)
    else:
        first = subprocess.Popen([sys.executable, '-m', 'train.cifar', *args], cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if kill_after_checkpoint is not None:  # an arbitrary moment, seen from outside
            deadline = time.time() + 120
            while not os.path.exists(os.path.join(out, CHECKPOINT)):
                assert time.time() < deadline and first.poll() is None
                time.sleep(0.05)
            time.sleep(kill_after_checkpoint)
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=300)
    finally:
        if isinstance(first, subprocess.Popen):
            first.kill()
    assert first.returncode == -signal.SIGKILL, 'the first run must die mid-way'
    assert not os.path.exists(os.path.join(out, 'metrics.json'))
    proc = run_module('train.cifar', '--data', data, '-j', '0', *RUN, '--resume', out)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize('die_at', ['batch:4', 'eval:2', 'checkpoint:3', 'checkpoint:12'])
def test_resume_after_sigkill_is_bitwise_identical(die_at, data, reference, tmp_path):
    out = str(tmp_path / 'run')
    proc = _killed_then_resumed(data, out, die_at=die_at)
    assert outcome(out) == reference[0]
    assert proc.stdout.splitlines()[-2] == reference[1]  # the book's first closing line


def test_resume_after_sigkill_from_outside_at_a_random_moment(data, reference, tmp_path):
    out = str(tmp_path / 'run')
    _killed_then_resumed(data, out, kill_after_checkpoint=random.uniform(0.0, 1.0))
    assert outcome(out) == reference[0]


def test_loss_that_becomes_nan_stops_with_one_line_and_keeps_the_checkpoint(data, tmp_path):
    out = tmp_path / 'run'
    proc = run_module('train.cifar', '--data', data, '--out', str(out), '-j', '0', *RUN,
                      '--lr', '1e38')
    assert proc.returncode == 1
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and 'Traceback' not in proc.stderr
    assert 'loss became nan at epoch 1, batch 2' in lines[0]
    assert (out / CHECKPOINT).exists() and not (out / 'metrics.json').exists()


def test_bad_resumes_are_refused_with_one_line(data, reference, tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    proc = run_module('train.cifar', '--data', data, *RUN, '--resume', str(empty))
    assert_one_line_error(proc, 'holds no checkpoint')
    # an interrupted run: resuming it with other settings, or starting over it, is refused
    out = tmp_path / 'run'
    proc = killed_at('batch:2', '--data', data, '--out', str(out), '-j', '0', *RUN)
    assert proc.returncode == -signal.SIGKILL
    saved = (out / CHECKPOINT).read_bytes()
    proc = run_module('train.cifar', '--data', data, '-j', '0', *RUN, '--batch-size', '8',
                      '--resume', str(out))
    assert_one_line_error(proc, 'was trained with batch_size=16', 'batch_size=8')
    proc = run_module('train.cifar', '--data', data, '-j', '0', *RUN, '--model', 'resnet18',
                      '--resume', str(out))
    assert_one_line_error(proc, "model='cifar_resnet20_v1'")
    proc = run_module('train.cifar', '--data', data, '--out', str(out), '-j', '0', *RUN)
    assert_one_line_error(proc, 'already holds a run (checkpoint.npz)', '--resume')
    assert (out / CHECKPOINT).read_bytes() == saved
    (out / CHECKPOINT).write_bytes(saved[:1000])
    proc = run_module('train.cifar', '--data', data, '-j', '0', *RUN, '--resume', str(out))
    assert_one_line_error(proc, 'checkpoint.npz is corrupt')


# --aug-backend batch: the draws happen in the training step, seeded per (seed, epoch,
# step, device); erasing draws flips and boxes there, and MixUp or CutMix (one per
# batch) their lambdas, partners and boxes
BATCH = ['--aug', 'erasing', '--aug-backend', 'batch', '--mixup', '1', '--cutmix', '1']


@pytest.fixture(scope='module')
def batch_reference(data, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('batchref') / 'run')
    proc = run_module('train.cifar', '--data', data, '--out', out, '-j', '0', *RUN, *BATCH)
    assert proc.returncode == 0, proc.stderr
    return outcome(out)


@pytest.mark.parametrize('layout', [['-j', '2'], ['-j', '2', '--thread-pool']],
                         ids=['processes', 'threads'])
def test_batch_backend_repeats_exactly_whatever_loads_the_batches(layout, data, batch_reference,
                                                                 reference, tmp_path):
    out = str(tmp_path / 'run')
    proc = run_module('train.cifar', '--data', data, '--out', out, *layout, *RUN, *BATCH)
    assert proc.returncode == 0, proc.stderr
    assert outcome(out) == batch_reference
    assert batch_reference[0] != reference[0][0]   # the batched draws did change the run


def test_batch_backend_resumes_bitwise_after_a_kill(data, batch_reference, tmp_path):
    out = str(tmp_path / 'run')
    first = killed_at('batch:4', '--data', data, '-j', '0', *RUN, *BATCH, '--out', out)
    assert first.returncode == -signal.SIGKILL, first.stderr
    proc = run_module('train.cifar', '--data', data, '-j', '0', *RUN, *BATCH, '--resume', out)
    assert proc.returncode == 0, proc.stderr
    assert outcome(out) == batch_reference


# every setting marked `resume` (run/config.py), with a value other than the run's
OTHER = {'recipe': 'fast', 'without': ('tta',), 'aug': 'none', 'aug_backend': 'batch',
         'normalize': True, 'model': 'resnet18', 'optimizer': 'sgd', 'batch_size': 8,
         'lr': 0.5, 'devices': 'cpu:3', 'kvstore': 'local', 'hybridize': False,
         'limit_train': 7, 'limit_test': 7, 'seed': 6, 'mixup': 0.4, 'cutmix': 0.5,
         'dtype': 'bfloat16'}


def test_the_list_covers_every_setting_that_must_match():
    from gluon_aug.run.config import config_fields
    assert set(OTHER) == {f.name for f in config_fields('resume')}


@pytest.mark.parametrize('field', sorted(OTHER))
def test_a_resume_with_any_setting_changed_is_refused_naming_it(field):
    import dataclasses
    from gluon_aug import UsageError
    from gluon_aug.run.cifar import check_resumable
    from gluon_aug.run.config import RunConfig, settle
    run = settle(RunConfig(seed=5, model='cifar_resnet20_v1', batch_size=16,
                           devices='cpu:2', resume='runs/x')).config
    state = {'info': {'config': dataclasses.asdict(run), 'data': {}}, 'epoch': 1}
    check_resumable(state, run, {})   # the same settings continue
    changed = dataclasses.replace(run, **{field: OTHER[field]})
    with pytest.raises(UsageError, match=f"was trained with {field}=.*this run has {field}="):
        check_resumable(state, changed, {})


# -- one run per folder --------------------------------------------------------------------

HOLD = '''
import os, sys, time
from gluon_aug.run.outputs import hold_run_folder
with hold_run_folder(sys.argv[1]):
    print('holding', flush=True)
    time.sleep(120)
'''


def test_a_folder_in_use_is_refused_naming_the_holder_and_a_killed_holder_leaves_no_lock(
        data, tmp_path):
    out = tmp_path / 'run'
    out.mkdir()
    holder = subprocess.Popen([sys.executable, '-c', HOLD, str(out)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'holding'
        for extra in ([], ['--book']):   # a second run in either mode
            args = ['--data', data, '--out', str(out), '-j', '0', '--model',
                    'cifar_resnet20_v1', '--epochs', '1', '--batch-size', '16',
                    '--devices', 'cpu', '--no-progress'] + extra
            proc = run_module('train.cifar', *args)
            assert_one_line_error(proc, f'is in use by another run (pid {holder.pid})')
        assert sorted(os.listdir(out)) == ['.lock']   # nothing written
    finally:
        holder.kill()
        holder.wait()
    # the kernel dropped the dead holder's lock: the folder is free again
    from gluon_aug.run.outputs import hold_run_folder
    with hold_run_folder(str(out)):
        assert (out / '.lock').read_text().strip() == str(os.getpid())


def test_a_second_resume_of_a_running_folder_is_refused(data, tmp_path):
    out = str(tmp_path / 'run')
    proc = killed_at('batch:2', '--data', data, '--out', out, '-j', '0', *RUN)
    assert proc.returncode == -signal.SIGKILL
    holder = subprocess.Popen([sys.executable, '-c', HOLD, out], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'holding'
        saved = open(os.path.join(out, CHECKPOINT), 'rb').read()
        proc = run_module('train.cifar', '--data', data, '-j', '0', *RUN, '--resume', out)
        assert_one_line_error(proc, 'is in use by another run')
        assert open(os.path.join(out, CHECKPOINT), 'rb').read() == saved
    finally:
        holder.kill()
        holder.wait()


def test_a_checkpoints_hyperparameters_decide_nothing_on_resume(data, reference, tmp_path):
    """An edited optimizer state (learning rate 1e6, momentum 0.99) is ignored: the
    run's configuration sets the hyperparameters, and the resumed run ends bitwise
    as the uninterrupted one, as metrics.json says it ran."""
    import json
    import numpy as onp
    out = str(tmp_path / 'run')
    proc = killed_at('batch:4', '--data', data, '--out', out, '-j', '0', *RUN)
    assert proc.returncode == -signal.SIGKILL
    path = os.path.join(out, CHECKPOINT)
    with onp.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    state = json.loads(arrays.pop('state').tobytes())
    state['trainer']['scalars'].update(lr=1e6, beta1=0.2, wd=5.0)
    arrays['state'] = onp.frombuffer(json.dumps(state).encode(), dtype=onp.uint8)
    onp.savez(path, **arrays)
    proc = run_module('train.cifar', '--data', data, '-j', '0', *RUN, '--resume', out)
    assert proc.returncode == 0, proc.stderr
    assert outcome(out) == reference[0]
    assert read_json(os.path.join(out, 'metrics.json'))['config']['lr'] == 0.001


@pytest.mark.parametrize('sig, status, name', [(signal.SIGINT, 130, 'Ctrl-C'),
                                               (signal.SIGTERM, 143, 'SIGTERM')])
def test_ctrl_c_or_sigterm_says_how_to_resume_in_one_line(sig, status, name, data, reference,
                                                          tmp_path):
    out = str(tmp_path / 'run')
    proc = subprocess.Popen([sys.executable, '-m', 'train.cifar', '--data', data, '--out', out,
                             '-j', '0', *RUN], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not os.path.exists(os.path.join(out, CHECKPOINT)):
            assert time.time() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == status, stderr
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and 'Traceback' not in stderr, stderr
    assert f'stopped by {name}' in lines[0]
    # the command it prints works as printed: --resume takes the run's settings
    assert lines[0].endswith(f'continue with python -m train.cifar --resume {out}')
    resumed = run_module('train.cifar', '--resume', out)
    assert resumed.returncode == 0, resumed.stderr
    assert outcome(out) == reference[0]
