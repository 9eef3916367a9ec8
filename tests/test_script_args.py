"""The scripts refuse bad arguments as the command line does: one line on stderr, exit
status 2, before any work (no traceback, nothing written, no wait for a loader or a run).

Each case puts its outputs in {out}, which must not exist afterwards, and reads the tiny
{data} where it reads data, so that a script which works instead of refusing fails soon;
if it has not ended after TIMEOUT seconds, it is killed with its children.
"""
import importlib.util
import os
import signal
import subprocess
import sys

import pytest

from conftest import ROOT, assert_one_line_error, make_cifar_folder

TIMEOUT = 300   # generous: a refusal that loads MXNet takes seconds, minutes on a busy CPU
PY = sys.executable   # this project's Python, which has no torch
UNPACK = 'python ../shared/data/cifar10-lossless/unpack.py ../data/cifar10-lossless'

CASES = [
    # scripts/ref_airbench94.py, run by a Python without torch
    ('ref_airbench94', ['{data}'], ['has no torch', 'pip install torch', 'run this script with']),
    ('ref_airbench94', ['{data}', '--epochs', '0'], ['--epochs', 'positive number']),
    ('ref_airbench94', ['{data}', '--batch', '0'], ['--batch', 'positive integer']),
    ('ref_airbench94', ['{out}'], ['is not a folder', 'CIFAR-10']),
    ('ref_airbench94', ['{data}', '--out', '{out}/r.json'], ['--out', 'does not exist']),
    # bench_pytorch.py: its --torch-python is tried before the MXNet side runs
    ('bench_pytorch', ['--data', '{data}', '--torch-python', PY],
     ['--torch-python', 'cannot import torch']),
    ('bench_pytorch', ['--data', '{data}', '--torch-python', '{out}/python'],
     ['--torch-python', 'does not run']),
    ('bench_pytorch', ['--data', '{data}', '--torch-python', PY, '--repeats', '0'],
     ['--repeats', 'positive']),
    ('bench_pytorch', ['--data', '{data}', '--torch-python', PY, '--batches', '0'],
     ['--batches', 'positive']),
    ('bench_pytorch', ['--torch-python', PY, '--data', '{out}'], ['--data', 'not a folder']),
    ('bench_train', ['--no-write', '--data', '{data}', '--repeats', '0'], ['--repeats']),
    ('bench_train', ['--no-write', '--data', '{data}', '--batches', '0'], ['--batches']),
    ('bench_train', ['--no-write', '--data', '{data}', '--aug', 'bogus'],
     ['--aug', "unknown preset 'bogus'"]),
    ('bench_train', ['--no-write', '--data', '{data}', '--model', 'bogus'],
     ['--model', "unknown model 'bogus'"]),
    ('bench_train', ['--no-write', '--data', '{data}/none'], ['--data', 'not a folder']),
    ('bench_backends', ['--no-write', '--out', '{out}', '--data', '{data}', '--epochs', '0'],
     ['--epochs', 'positive']),
    ('bench_backends', ['--no-write', '--out', '{out}', '--data', '{data}', '--aug', 'bogus'],
     ['--aug', 'unknown preset']),
    ('bench_backends', ['--no-write', '--out', '{out}', '--data', '{out}'], ['--data']),
    ('bench_augment', ['--no-write', '--presets', 'flip', '--sizes', '0'], ['--sizes']),
    ('bench_augment', ['--no-write', '--presets', 'flip', '--sizes', '32', '--repeats', '0'],
     ['--repeats', 'positive']),
    ('bench_augment', ['--no-write', '--presets', 'bogus'], ['--presets', 'unknown preset']),
    ('bench_augment', ['--no-write', '--presets', 'flip', '--limit', '0'],
     ['--limit', 'positive']),
    ('profile_augment', ['--no-write', '--sizes', '64'], ['--sizes', 'invalid choice']),
    ('profile_augment', ['--no-write', '--presets', 'bogus'], ['--presets', 'unknown preset']),
    ('bench_dtype', ['--no-write', '--models', 'fastnet', '--steps', '0'], ['--steps']),
    ('bench_dtype', ['--no-write', '--models', 'bogus'], ['--models', "unknown model"]),
    ('bench_dtype', ['--no-write', '--models', 'fastnet:0'], ['--models', 'positive integer']),
    ('bench_activation', ['--no-write', '--batch', '0'], ['--batch', 'positive integer']),
    ('bench_activation', ['--no-write', '--rounds', 'two'], ['--rounds', 'positive integer']),
    ('profile_step', ['--no-write', '--models', 'fastnet:-3'], ['--models', 'positive integer']),
    ('profile_step', ['--no-write', '--models', 'nonet'], ['--models', 'unknown model']),
    ('reproduce', ['--data', '{data}', '--docs', '{out}', '--work', '{out}', '--augs', 'bogus'],
     ['--augs', "unknown preset 'bogus'"]),
    ('reproduce', ['--data', '{data}', '--docs', '{out}', '--work', '{out}', '--epochs', '0'],
     ['--epochs', 'positive']),
    ('reproduce', ['--data', '{out}', '--docs', '{out}', '--work', '{out}'], ['--data']),
    ('repro_jitter_hang', ['--case', 'bogus'], ['--case', 'invalid choice']),
    ('repro_jitter_hang', ['--case'], ['--case', 'expected one argument']),
    ('preview_presets', ['--data', '{data}', '--out', '{out}', '-n', '0'], ['--images']),
    ('augment_gallery', ['--image', '{data}/x.jpg', '--out', '{out}', '--seed', '-1'],
     ['--seed']),
    ('soak_resume', ['--work', '{out}', '--modes', 'j0', '--cycles', '0'], ['--cycles']),
    ('time_to_accuracy', ['--work', '{out}', '--rows', 'fast', '--data', '{out}'], ['--data']),
    ('time_to_accuracy', ['--work', '{out}', '--data', '{data}', '--rows', 'book-mxnet',
                          '--book-epochs', '0'], ['--book-epochs', 'positive']),
    ('time_to_accuracy', ['--work', '{out}', '--data', '{data}', '--rows', 'fast',
                          '--report', '{out}/r.md'], ['--report', 'does not exist']),
    ('time_to_accuracy', ['--work', '{out}', '--data', '{data}', '--torch-python', PY],
     ['--torch-python', 'cannot import torch']),
    ('time_to_accuracy', ['--work', '{out}', '--report-only'], ['no results in']),
    # the full training set: a folder that lacks it says how to make it
    ('exercise1_full', ['--runs', '{out}', '--data', '{data}'],
     ['--data', 'lacks data_batch_2.bin', UNPACK]),
    ('exercise1_full', ['--runs', '{out}'], ['--data', 'not given', UNPACK]),
    ('reproduce_book', ['--run', '{out}', '--data', '{out}'], ['--data', UNPACK]),
    ('bench_overheads', ['--no-write', '--data', '{data}'],
     ['--data', 'lacks data_batch_2.bin', UNPACK]),
    ('bench_overheads', ['--no-write', '--data', '{data}', '--limit', '0'],
     ['--limit', 'positive']),
    ('tune_muon', ['--runs', '{out}', '--data', '{data}', '--arms', 'e5'],
     ['--arms', 'invalid choice']),
    ('tune_muon', ['--runs', '{out}', '--data', '{out}'], ['--data', 'not a folder']),
    ('tune_muon', ['--runs', '{out}', '--report-only'], ['no finished run']),
    ('policy_table', ['--runs', '{out}', '--data', '{out}'], ['--data', 'not a folder']),
    ('race94', ['--recipe', 'bogus', '--data', '{data}', '--torch-python', PY],
     ['--recipe', "unknown recipe 'bogus'"]),
]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """A small folder of CIFAR-10 binary files: one training file and the test file."""
    path = str(tmp_path_factory.mktemp('cifar'))
    make_cifar_folder(path, n_train=(20,), n_test=10)
    return path


def run_briefly(script, *args):
    """Run scripts/`script`.py in a process group of its own; kill the whole group if it
    has not ended after TIMEOUT seconds (it is working instead of refusing)."""
    # a process group, not a session: a new session would run in a scheduling group of
    # its own, out of reach of the `nice` the tests may run under
    proc = subprocess.Popen([PY, os.path.join(ROOT, 'scripts', f'{script}.py'), *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=os.setpgrp)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f'{script} {" ".join(args)} was still running after {TIMEOUT} s')
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize('script, args, needles', CASES,
                         ids=[f"{s}:{' '.join(a)}" for s, a, _ in CASES])
def test_a_bad_argument_is_one_line_and_exit_2_before_any_work(script, args, needles,
                                                               data, tmp_path):
    if script == 'ref_airbench94' and importlib.util.find_spec('torch'):
        pytest.skip('this Python has torch')
    out = str(tmp_path / 'out')
    proc = run_briefly(script, *(a.format(data=data, out=out) for a in args))
    assert_one_line_error(proc, f'scripts/{script}.py: error: ', *needles)
    assert not os.path.exists(out), os.listdir(out)
    assert proc.stdout == ''


@pytest.mark.parametrize('script', ['ref_airbench94', 'repro_jitter_hang'])
def test_help_works_and_runs_nothing(script):
    """ref_airbench94 without torch; repro_jitter_hang, which once ran every case instead."""
    proc = run_briefly(script, '--help')
    assert proc.returncode == 0 and proc.stderr == '', proc.stderr
    assert proc.stdout.startswith(f'usage: scripts/{script}.py'), proc.stdout
    assert 'each case in its own process' not in proc.stdout   # the repro's table
