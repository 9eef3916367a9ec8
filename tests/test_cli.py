"""`python -m train.cifar` end to end on tiny generated data, and its bad-input table."""
import os
import re

import pytest

from conftest import cifar_folder_for_module, assert_one_line_error, read_json, run_module

TINY = ['--model', 'cifar_resnet20_v1', '--epochs', '2', '--batch-size', '16',
        '--devices', 'cpu:2', '--num-workers', '0', '--no-progress']


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    return cifar_folder_for_module(tmp_path_factory, (40,), 20)


def test_cli_trains_and_writes_metrics_and_curves(data_dir, tmp_path):
    out = str(tmp_path / 'run')
    proc = run_module('train.cifar', '--aug', 'flip', '--data', data_dir, '--out', out,
                      '--seed', '3', *TINY)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r'loss \d+\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}', lines[-2])
    assert re.fullmatch(r'\d+\.\d examples/sec on \[cpu\(0\), cpu\(1\)\]', lines[-1])
    metrics = read_json(os.path.join(out, 'metrics.json'))
    assert [e['epoch'] for e in metrics['epochs']] == [1, 2]
    assert metrics['epochs'][-1]['examples'] == 40
    assert metrics['config']['seed'] == 3 and metrics['config']['model'] == 'cifar_resnet20_v1'
    assert metrics['versions']['mxnet'] == '1.9.1'
    last = metrics['final']
    assert lines[-2] == (f"loss {last['train_loss']:.3f}, train acc {last['train_acc']:.3f}, "
                         f"test acc {last['test_acc']:.3f}")
    with open(os.path.join(out, 'curves.png'), 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_cli_sets_omp_threads_to_the_usable_cores(data_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'OMP_NUM_THREADS'}
    env['OMP_NUM_THREADS'] = ''
    out = str(tmp_path / 'run')
    proc = run_module('train.cifar', '--data', data_dir, '--out', out, '--limit-train', '16',
                      *TINY, env=env)
    assert proc.returncode == 0, proc.stderr
    recorded = read_json(os.path.join(out, 'metrics.json'))['run']['omp_num_threads']
    assert recorded == str(len(os.sched_getaffinity(0)))
    proc = run_module('train.cifar', '--data', data_dir, '--out', out, '--overwrite',
                      '--limit-train', '16', *TINY, env={'OMP_NUM_THREADS': '1'})
    assert proc.returncode == 0, proc.stderr
    assert read_json(os.path.join(out, 'metrics.json'))['run']['omp_num_threads'] == '1'


def test_cli_refuses_to_overwrite_a_previous_run(data_dir, tmp_path):
    out = tmp_path / 'run'
    out.mkdir()
    (out / 'metrics.json').write_text('{"previous": true}')
    proc = run_module('train.cifar', '--data', data_dir, '--out', str(out), *TINY)
    assert_one_line_error(proc, 'already holds a run', '--overwrite')
    assert (out / 'metrics.json').read_text() == '{"previous": true}'


def _corrupt_copy(src, tmp_path, how):
    dst = tmp_path / f'data-{how}'
    dst.mkdir()
    for name in os.listdir(src):
        (dst / name).write_bytes(open(os.path.join(src, name), 'rb').read())
    train = dst / 'data_batch_1.bin'
    raw = bytearray(train.read_bytes())
    if how == 'truncated':
        train.write_bytes(bytes(raw[:-10]))
    elif how == 'label':
        raw[3073 * 2] = 200
        train.write_bytes(bytes(raw))
    elif how == 'no-test':
        os.remove(dst / 'test_batch.bin')
    return str(dst)


BAD = [
    (['--aug', 'sharpen'], ["invalid choice: 'sharpen'", 'flip', 'none']),
    (['--model', 'resnet19'], ['unknown model', 'cifar_resnet20_v1']),
    (['--epochs', '0'], ['--epochs must be a positive integer']),
    (['--epochs', '-3'], ['--epochs must be a positive integer']),
    (['--epochs', 'ten'], ["--epochs: invalid int value: 'ten'"]),
    (['--batch-size', '1', '--devices', 'cpu:2'], ['smaller than the 2 devices']),
    (['--lr', '0'], ['--lr must be a positive number']),
    (['--lr', 'fast'], ["--lr: invalid float value: 'fast'"]),
    (['--lr', 'nan'], ['--lr must be a positive number']),
    (['--devices', 'gpu:2'], ['GPU', '--devices cpu']),
    (['--devices', 'cpu;2'], ['is not a device spec']),
    (['--limit-train', '0'], ['--limit-train must be a positive integer']),
    (['--num-workers', '-1'], ['--num-workers must be 0 or more']),
    (['--eval-every', '-2'], ['--eval-every must be 0 (the last epoch only) or a positive']),
    (['--batch-size', '0'], ['--batch-size must be a positive integer']),
    (['--devices', 'cpu:0'], ['the count must be at least 1']),
    (['--limit-test', '-5'], ['--limit-test must be a positive integer']),
    (['--checkpoint-every', '0'], ['--checkpoint-every must be a positive integer']),
    (['--loader-timeout', '0'], ['--loader-timeout must be a positive number']),
    (['--kvstore', 'nccl'], ["invalid choice: 'nccl'"]),
    (['--kvstore', 'dist_async', '--checkpoint-every', '5'], ['dist_async keeps the optimizer state']),
    (['--book', '--seed', '3'], ["--book runs the chapter's code path", 'drop --seed']),
    (['--book', '--aug-backend', 'batch'], ['--aug-backend would change']),
    (['--book', '--checkpoint-every', '2'], ['--checkpoint-every would change']),
    (['--book', '--thread-pool'], ['--thread-pool would change']),
    (['--book', '--normalize'], ['--normalize would change']),
    (['--book', '--kvstore', 'local'], ['--kvstore would change']),
]


@pytest.mark.parametrize('flags, needles', BAD, ids=[' '.join(f) for f, _ in BAD])
def test_bad_flag_is_one_line_exit_2_and_writes_nothing(flags, needles, data_dir, tmp_path):
    out = tmp_path / 'run'
    args = ['--data', data_dir, '--out', str(out), '--devices', 'cpu', '--no-progress']
    proc = run_module('train.cifar', *args, *flags)
    assert_one_line_error(proc, *needles)
    assert not out.exists()


@pytest.mark.parametrize('how, needles', [
    ('truncated', ['data_batch_1.bin is corrupt', 'whole number']),
    ('label', ['data_batch_1.bin is corrupt: record 2 has label 200']),
    ('no-test', ['test_batch.bin', 'missing']),
])
def test_bad_data_folder_is_one_line_exit_2(how, needles, data_dir, tmp_path):
    bad = _corrupt_copy(data_dir, tmp_path, how)
    out = tmp_path / 'run'
    proc = run_module('train.cifar', '--data', bad, '--out', str(out), *TINY)
    assert_one_line_error(proc, *needles)
    assert not out.exists()


def test_missing_data_folder_and_unwritable_out(data_dir, tmp_path):
    proc = run_module('train.cifar', '--data', str(tmp_path / 'nope'), *TINY)
    assert_one_line_error(proc, 'does not exist')
    empty = tmp_path / 'empty'
    empty.mkdir()
    proc = run_module('train.cifar', '--data', str(empty), *TINY)
    assert_one_line_error(proc, 'no CIFAR-10 training files')
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    proc = run_module('train.cifar', '--data', data_dir, '--out', str(blocker / 'run'), *TINY)
    assert_one_line_error(proc, 'not writable')


def test_library_import_without_mxnet_names_the_extra_to_install(tmp_path):
    blocker = tmp_path / 'sitecustomize.py'
    blocker.write_text(
        "import sys\n"
        "class _NoMXNet:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'mxnet' or name.startswith('mxnet.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'mxnet'\", name='mxnet')\n"
        "sys.meta_path.insert(0, _NoMXNet())\n")
    env = {'PYTHONPATH': f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = run_module('train.cifar', '--help', env=env)
    line = assert_one_line_error(proc, 'MXNet is not installed')
    assert '.[cpu]' in line and '.[gpu]' in line


def test_book_mode_end_to_end_writes_metrics_and_curves_only(data_dir, tmp_path):
    out = tmp_path / 'book'
    proc = run_module('train.cifar', '--book', '--data', data_dir, '--out', str(out),
                      '--model', 'cifar_resnet20_v1', '--epochs', '2', '-b', '16',
                      '--devices', 'cpu:2', '-j', '0')
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r'loss \d+\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}', lines[-2])
    assert re.fullmatch(r'\d+\.\d examples/sec on \[cpu\(0\), cpu\(1\)\]', lines[-1])
    assert proc.stderr == ''                              # no progress bar
    assert sorted(os.listdir(out)) == ['.lock', 'curves.png', 'metrics.json', 'model.params']
    metrics = read_json(out / 'metrics.json')
    assert metrics['config']['book'] and metrics['config']['seed'] is None
    assert [e['epoch'] for e in metrics['epochs']] == [1, 2]
    final = metrics['final']
    assert lines[-2] == (f"loss {final['train_loss']:.3f}, train acc {final['train_acc']:.3f}, "
                         f"test acc {final['test_acc']:.3f}")
    assert lines[-1].startswith(f"{final['examples_per_sec']:.1f} examples/sec")


@pytest.mark.parametrize('value', ['abc', '0', '-2', '2.5'])
def test_an_omp_num_threads_openmp_would_abort_on_is_one_line(value):
    proc = run_module('train.cifar', '--help', env={'OMP_NUM_THREADS': value})
    assert_one_line_error(proc, 'python -m train.cifar: error:', f"OMP_NUM_THREADS={value!r}")


@pytest.mark.parametrize('kind', ['file', 'read-only'])
def test_an_mxnet_home_that_cannot_hold_the_data_is_one_line(kind, tmp_path):
    home = tmp_path / 'home'
    if kind == 'file':
        home.write_text('not a folder')
    else:
        (home / 'datasets').mkdir(parents=True)
        (home / 'datasets').chmod(0o500)
        if os.access(home / 'datasets', os.W_OK):
            pytest.skip('root writes into read-only folders')
    proc = run_module('train.cifar', '--epochs', '1', env={'MXNET_HOME': str(home)})
    assert_one_line_error(proc, 'cannot be written', 'MXNET_HOME', '--data DIR')
