"""scripts/race94.py: its arithmetic (the ratio, the machine's limit) and its refusals."""
import importlib.util
import os
import sys

import pytest

from conftest import ROOT, assert_one_line_error, make_cifar_folder, run_script

sys.path.insert(0, os.path.join(ROOT, 'scripts'))
import race94  # noqa: E402

# fastnet-wide's multiply-adds per 32x32 image, counted by hand layer by layer:
# whiten 2x2 (3 -> 24, 31x31 out), then per block conv1 at the input size, pool, conv2
FASTNET_WIDE_MACS = (31 * 31 * 24 * 3 * 4          # whitening
                     + 31 * 31 * 64 * 24 * 9       # block 1 conv1 (31x31)
                     + 15 * 15 * 64 * 64 * 9       # block 1 conv2 (after pool: 15x15)
                     + 15 * 15 * 256 * 64 * 9      # block 2 conv1
                     + 7 * 7 * 256 * 256 * 9       # block 2 conv2 (7x7)
                     + 7 * 7 * 256 * 256 * 9       # block 3 conv1
                     + 3 * 3 * 256 * 256 * 9       # block 3 conv2 (3x3)
                     + 256 * 10)                   # head


def test_the_limit_counts_every_trained_and_evaluated_image():
    metrics = {'config': {'model': 'fastnet-wide', 'batch_size': 2000},
               'epochs': [{}] * 8, 'recipe': {'ingredients': {'tta': 2}}}
    gemm = 100.0   # GFLOP/s
    trained = 8 * 25 * 2000                  # 50,000 images: 25 batches of 2000, 8 epochs
    views = 7 * 2 + 6                        # mirror TTA each epoch, 6 views at the last
    want = 2 * FASTNET_WIDE_MACS * (3 * trained + views * 2000) / (gemm * 1e9)
    got = race94.limit_seconds(metrics, 50000, 2000, gemm)
    assert got == pytest.approx(want, rel=1e-9)
    metrics['config']['batch_size'] = 1024   # drop-last: 48 batches of 1024
    assert race94.limit_seconds(metrics, 50000, 0, gemm) == pytest.approx(
        2 * FASTNET_WIDE_MACS * 3 * 8 * 48 * 1024 / 1e11, rel=1e-9)


def test_the_table_puts_our_mean_time_over_airbench94s():
    rows = [{'seed': 0, 'ref': {'acc': 0.94, 'wall': 1000.0},
             'ours': {'acc': 0.941, 'wall': 500.0}},
            {'seed': 1, 'ref': {'acc': 0.942, 'wall': 1200.0},
             'ours': {'acc': 0.939, 'wall': 700.0}}]
    table, ratio = race94.race_table(rows, 'fast94-muon', 'bfloat16', 300.0)
    assert ratio == pytest.approx(600 / 1100)
    assert '| 0 | 0.9400 | 16.7 min | 0.9410 | 8.3 min | 0.50x |' in table
    assert '**0.55x**' in table and '**2.0x the limit**' in table
    assert 'airbench94 0.9410, fast94-muon 0.9400' in table


@pytest.mark.parametrize('args, needles', [
    (['--data', '{data}', '--torch-python', sys.executable], ['lacks data_batch_2.bin']),
    (['--data', '{full}', '--torch-python', sys.executable], ['cannot import torch']),
    (['--data', '{full}', '--seeds', '-1', '--torch-python', sys.executable], ['--seeds']),
])
def test_bad_arguments_are_one_line_before_any_run(args, needles, tmp_path):
    data, full = str(tmp_path / 'small'), str(tmp_path / 'full')
    make_cifar_folder(data, n_train=(4,), n_test=4)
    make_cifar_folder(full, n_train=(2,) * 5, n_test=4)
    if importlib.util.find_spec('torch'):
        pytest.skip('this Python has torch')
    proc = run_script('scripts/race94.py', *(a.format(data=data, full=full) for a in args),
                      timeout=300)
    assert_one_line_error(proc, 'scripts/race94.py: error: ', *needles)


def test_a_finished_run_is_kept_and_a_stopped_or_failed_one_runs_again(tmp_path):
    runs = str(tmp_path)
    out = str(tmp_path / 'airbench94-seed0.json')
    entry = {'name': 'airbench94-seed0', 'kind': 'airbench94', 'seed': 0, 'output': out}
    write = [sys.executable, '-c', f'import json; json.dump({{"tta_acc": 0.94}}, open({out!r}, "w"))']
    entries = race94.read_record(runs)
    done = race94.run_entry(runs, entries, dict(entry), write)
    assert done['status'] == 0 and done['wall'] > 0 and race94.accuracy(done) == 0.94
    recorded = race94.read_record(runs)
    assert [e['name'] for e in recorded] == ['airbench94-seed0'] and recorded[0]['machine']
    # run again: kept, the failing command never runs
    fail = [sys.executable, '-c', 'import sys; sys.exit("should not run")']
    assert race94.run_entry(runs, recorded, dict(entry), fail) == recorded[0]
    # a run on record whose output is gone (or that never ended) runs again, and its
    # failure is one line with the run's last error line, on record with its status
    os.remove(out)
    with pytest.raises(RuntimeError, match='airbench94-seed0 failed .exit status 1.: '
                                           'should not run'):
        race94.run_entry(runs, recorded, dict(entry), fail)
    assert [e['status'] for e in race94.read_record(runs)] == [1]
