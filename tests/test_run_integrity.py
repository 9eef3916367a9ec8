"""A run folder never mixes two runs; a stopped run or comparison continues with the
command it prints; a full disk, a path MXNet cannot take or an absurd device count
ends in one line, with nothing lost (issue 31, parts 1, 2 and 4)."""
import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest

from gluon_aug.errors import UsageError
from gluon_aug.results import export as export_module
from gluon_aug.results.run_folder import evaluation_net, open_run
from gluon_aug.run.outputs import hold_run_folder, RUN_OUTPUTS
from train import evaluate, export, predict

from conftest import assert_one_line_error, ROOT, run_module

KILLPOINT = os.path.join(ROOT, 'tests', 'killpoint.py')


def tiny_args(data, out, seed=5, epochs=2):
    """The flags of a tiny run like the session's run_cpu1 (conftest.train_tiny_run)."""
    return ['--data', data, '--model', 'cifar_resnet20_v1', '--epochs', str(epochs), '-b', '8',
            '--seed', str(seed), '-j', '0', '--no-progress', '--devices', 'cpu', '--out', out]


def killpoint(point, *args, timeout=600):
    return subprocess.run([sys.executable, KILLPOINT, point, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def run_printed(command, timeout=600):
    """Run a command exactly as a message printed it (python -> this Python)."""
    argv = shlex.split(command)
    assert argv[0] == 'python', command
    return subprocess.run([sys.executable] + argv[1:], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def hint(stderr, marker='continue'):
    """The command after 'continue ... with' in a one-line message."""
    line = [l for l in stderr.splitlines() if l.strip()][-1]
    assert marker in line, line
    return line.split(' with ', 2)[-1] if 'comparison' not in line else \
        line.split('continue the comparison with ', 1)[1]


def copy_run(run, tmp_path, name):
    dst = tmp_path / name
    shutil.copytree(run, dst)
    return str(dst)


def tree(path):
    """{relative path: bytes or 'dir'} of everything below `path`."""
    found = {}
    for folder, dirs, names in os.walk(path):
        for d in dirs:
            found[os.path.relpath(os.path.join(folder, d), path)] = 'dir'
        for n in names:
            with open(os.path.join(folder, n), 'rb') as f:
                found[os.path.relpath(os.path.join(folder, n), path)] = f.read()
    return found


# -- part 1: one run per folder -----------------------------------------------------------

def test_an_interrupted_overwrite_leaves_nothing_of_the_old_run_and_its_hint_works(
        run_cpu1, tiny_data, tmp_path):
    """An --overwrite run stopped after its first checkpoint: the old run's
    metrics.json, model.params, curves.png and eval/ are gone (retired before the
    new run wrote anything), so no reader can score the new weights against the old
    record; the Ctrl-C line's command, run as printed, finishes the run bitwise as an
    uninterrupted one."""
    out = copy_run(run_cpu1, tmp_path, 'run')
    os.makedirs(os.path.join(out, 'eval'))
    stopped = killpoint('interrupt:3', *tiny_args(tiny_data, out), '--checkpoint-every', '1',
                        '--overwrite')
    assert stopped.returncode == 130, stopped.stderr
    assert sorted(os.listdir(out)) == ['.lock', 'checkpoint.npz'], os.listdir(out)
    for main, argv in ((evaluate.main, [out]), (export.main, [out, '--out', str(tmp_path / 'x')]),
                       (predict.main, [out, os.path.join(ROOT, 'docs', 'cifar_first32.png')])):
        with pytest.raises(UsageError, match='holds no model.params: the run did not finish'):
            open_run(out)
        assert main(argv) == 2
    command = hint(stopped.stderr)
    assert command == f'python -m train.cifar --resume {out}'
    resumed = run_printed(command)
    assert resumed.returncode == 0, resumed.stderr
    whole = str(tmp_path / 'whole')
    assert run_module('train.cifar', *tiny_args(tiny_data, whole)).returncode == 0
    with open(os.path.join(out, 'model.params'), 'rb') as a, \
            open(os.path.join(whole, 'model.params'), 'rb') as b:
        assert a.read() == b.read()
    assert evaluate.main([out]) == 0


def test_readers_refuse_a_folder_whose_files_come_from_two_runs(run_cpu1, run_cpu2, tmp_path,
                                                                capsys):
    mixed = copy_run(run_cpu1, tmp_path, 'mixed-params')
    shutil.copy(os.path.join(run_cpu2, 'model.params'), mixed)
    out = tmp_path / 'out'
    image = os.path.join(ROOT, 'docs', 'cifar_first32.png')
    for main, argv in ((evaluate.main, [mixed, '--out', str(out)]), (predict.main, [mixed, image]),
                       (export.main, [mixed, '--out', str(out)])):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert '\n' not in err and 'mixes two runs' in err, err
    assert not out.exists() and not os.path.exists(os.path.join(mixed, 'eval'))
    other = copy_run(run_cpu1, tmp_path, 'mixed-checkpoint')
    shutil.copy(os.path.join(run_cpu2, 'checkpoint.npz'), other)
    with pytest.raises(UsageError, match='checkpoint.npz belongs to another run than '
                                         'metrics.json.*mixes two runs'):
        evaluation_net(open_run(other))


def test_a_run_that_finished_in_the_folder_meanwhile_is_refused_not_replaced(run_cpu1,
                                                                             tmp_path):
    """prepare_out_dir looked before the lock was taken; what another run wrote since
    is checked again, held: refused without --overwrite, retired with it."""
    out = copy_run(run_cpu1, tmp_path, 'run')
    before = tree(out)
    with pytest.raises(UsageError, match='already holds a run'):
        with hold_run_folder(out, new_run=True):
            pass
    assert tree(out) == before
    os.makedirs(os.path.join(out, 'eval'))
    with hold_run_folder(out, new_run=True, overwrite=True):
        assert not any(os.path.lexists(os.path.join(out, n)) for n in RUN_OUTPUTS)
    with hold_run_folder(out, new_run=False):   # a resume retires nothing
        pass


# -- part 1: exports ----------------------------------------------------------------------

def test_an_export_that_landed_first_is_not_replaced(run_cpu1, tmp_path, monkeypatch):
    """Two exports into one new --out: both pass the first check; the one that
    publishes second finds the first's files there, held, and is refused."""
    out = str(tmp_path / 'export')
    real = export_module.publish

    def another_export_lands_first(staging, target, overwrite):
        monkeypatch.setattr(export_module, 'publish', real)
        export_module.export_run(run_cpu1, target, onnx=False)
        first = tree(target)
        try:
            real(staging, target, overwrite)
        finally:
            assert tree(target) == first
    monkeypatch.setattr(export_module, 'publish', another_export_lands_first)
    with pytest.raises(UsageError, match='already holds files'):
        export_module.export_run(run_cpu1, out, onnx=False)
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.export')]


def test_after_an_overwrite_the_folder_holds_exactly_the_new_exports_files(run_cpu1, tmp_path):
    out = str(tmp_path / 'export')
    export_module.export_run(run_cpu1, out, onnx=False)
    with open(os.path.join(out, 'model.onnx'), 'wb') as f:   # an earlier export had ONNX
        f.write(b'onnx of an earlier export')
    info = export_module.export_run(run_cpu1, out, onnx=False, overwrite=True)
    assert sorted(os.listdir(out)) == sorted(info['files'])
    assert 'model.onnx' not in os.listdir(out)


@pytest.mark.parametrize('foreign', ['model.onnx/model.onnx', 'notes.txt'])
def test_overwrite_refuses_a_folder_that_is_not_an_export_and_changes_nothing(
        foreign, run_cpu1, tmp_path, capsys):
    out = tmp_path / 'x'
    export_module.export_run(run_cpu1, str(out), onnx=False)
    if foreign.endswith('.txt'):
        (out / foreign).write_text('mine')
    else:
        shutil.rmtree(out)
        (out / foreign).mkdir(parents=True)
    before = tree(out)
    assert export.main([run_cpu1, '--out', str(out), '--overwrite']) == 2
    err = capsys.readouterr().err.strip()
    assert '\n' not in err and 'not a file an export writes' in err, err
    assert tree(out) == before


# -- part 2: full disks, odd paths, absurd devices ----------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """mount(size) -> a folder on a tmpfs of `size` bytes (root only); unmounted after."""
    mounts = []

    def mount(size, name='disk'):
        path = tmp_path / name
        path.mkdir()
        proc = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(path)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f'cannot mount a small tmpfs here ({proc.stderr.strip()}): a full '
                        'disk needs root and mount permission')
        mounts.append(path)
        return path
    yield mount
    for path in mounts:
        subprocess.run(['umount', str(path)], capture_output=True)


def remount(path, size):
    subprocess.run(['mount', '-o', f'remount,size={size}', str(path)], check=True)


def test_a_full_disk_while_mxnet_writes_model_params_is_one_line_and_keeps_the_checkpoint(
        run_cpu1, tiny_data, small_disk):
    """One epoch: its checkpoint fits, model.params (written by MXNet's C++) does
    not. One line, exit 1, the checkpoint kept; --resume, after freeing space,
    writes the results."""
    ckpt = os.path.getsize(os.path.join(run_cpu1, 'checkpoint.npz'))
    params = os.path.getsize(os.path.join(run_cpu1, 'model.params'))
    disk = small_disk(ckpt + params // 2)
    out = str(disk / 'run')
    proc = run_module('train.cifar', *tiny_args(tiny_data, out, epochs=1))
    assert proc.returncode == 1, proc.stderr
    assert 'Traceback' not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert 'model.params (the disk is full)' in proc.stderr
    assert f'--resume {out}' in proc.stderr and 'last checkpoint is kept' in proc.stderr
    assert sorted(os.listdir(out)) == ['.lock', 'checkpoint.npz']
    remount(disk, 16 << 20)
    resumed = run_module('train.cifar', '--resume', out)
    assert resumed.returncode == 0, resumed.stderr
    assert os.path.exists(os.path.join(out, 'model.params')) and open_run(out)


def test_a_full_disk_during_export_is_a_write_failure_and_nothing_is_exported(run_cpu1,
                                                                             small_disk):
    disk = small_disk(os.path.getsize(os.path.join(run_cpu1, 'model.params')) // 2)
    out = disk / 'export'
    proc = run_module('train.export', run_cpu1, '--out', str(out), '--no-onnx')
    assert proc.returncode == 1, proc.stderr
    line = proc.stderr.strip()
    assert '\n' not in line and 'Traceback' not in line, line
    assert 'the disk is full' in line and 'nothing was exported' in line
    assert 'ONNX' not in line and os.listdir(disk) == []


NOT_UTF8 = os.fsdecode(b'run-\xff')


@pytest.mark.parametrize('command', ['train', 'resume', 'export'])
def test_a_path_mxnet_cannot_take_is_refused_before_any_work(command, run_cpu1, tiny_data,
                                                            tmp_path):
    path = os.path.join(str(tmp_path), NOT_UTF8)
    args = {'train': ('train.cifar', *tiny_args(tiny_data, path)),
            'resume': ('train.cifar', '--resume', path),
            'export': ('train.export', run_cpu1, '--out', path)}[command]
    if command == 'resume':
        shutil.copytree(run_cpu1, path)
    before = sorted(os.listdir(tmp_path))
    assert_one_line_error(run_module(*args), 'not valid UTF-8', 'MXNet')
    assert sorted(os.listdir(tmp_path)) == before


def test_an_absurd_number_of_cpu_contexts_is_refused_at_once(tiny_data, tmp_path):
    out = tmp_path / 'run'
    args = tiny_args(tiny_data, str(out))
    args[args.index('--devices') + 1] = 'cpu:100000'
    args[args.index('-b') + 1] = '100000'
    assert_one_line_error(run_module('train.cifar', *args, timeout=60), 'cpu:64')
    assert not out.exists()


# -- part 4: train.compare continues ------------------------------------------------------

def test_a_comparison_stopped_in_its_second_arm_continues_with_the_command_it_prints(
        tiny_data, tmp_path):
    out = str(tmp_path / 'compare')
    args = ['--augs', 'none', 'flip'] + tiny_args(tiny_data, out, epochs=1)
    stopped = killpoint('interrupt:10', '--compare', *args)   # 8 steps an arm
    assert stopped.returncode == 130, stopped.stderr
    assert 'in arm flip (2 of 2)' in stopped.stderr
    command = hint(stopped.stderr)
    assert command == f'python -m train.compare --resume {out}'
    first = tree(os.path.join(out, 'none'))
    resumed = run_printed(command)
    assert resumed.returncode == 0, resumed.stderr
    assert tree(os.path.join(out, 'none')) == first   # the finished arm is kept, not re-run
    whole = str(tmp_path / 'whole')
    assert run_module('train.compare', '--augs', 'none', 'flip',
                      *tiny_args(tiny_data, whole, epochs=1)).returncode == 0
    rows = [json.load(open(os.path.join(d, 'compare.json')))['rows'] for d in (out, whole)]
    strip = [[{k: v for k, v in r.items() if k not in ('examples_per_sec', 'wall_seconds')}
              for r in rs] for rs in rows]
    assert strip[0] == strip[1]
    assert not os.path.exists(os.path.join(out, 'compare.plan.json'))


def test_compare_refusals_leave_no_out_folder(tmp_path, tiny_data):
    out = tmp_path / 'compare'
    args = ['--augs', 'none', 'flip'] + tiny_args(tiny_data, str(out))
    args[args.index('--model') + 1] = 'no-such-model'
    proc = run_module('train.compare', *args, '--recipe', 'fast', '--without', 'alt-flip')
    assert proc.returncode == 2 and not out.exists(), proc.stderr
    args2 = ['--augs', 'none'] + tiny_args(str(tmp_path / 'no-data'), str(out))
    assert_one_line_error(run_module('train.compare', *args2))
    assert not out.exists()


def test_a_run_still_training_is_told_so_not_to_resume(run_cpu1, tmp_path):
    """While a run holds its folder, readers say it is still going on (with its pid),
    instead of calling it unfinished and advising --resume."""
    out = copy_run(run_cpu1, tmp_path, 'run')
    os.remove(os.path.join(out, 'model.params'))
    with hold_run_folder(out):
        with pytest.raises(UsageError, match=rf'being written by a run still going on '
                                             rf'\(pid {os.getpid()}\); wait for it'):
            open_run(out)
    with pytest.raises(UsageError, match='did not finish; continue it'):
        open_run(out)


def test_the_gallery_calls_a_folder_a_folder(tmp_path):
    from gluon_aug.book.gallery import read_photo
    with pytest.raises(UsageError, match='is a folder, not an image file'):
        read_photo(str(tmp_path))
    with pytest.raises(UsageError, match='does not exist'):
        read_photo(str(tmp_path / 'nope.jpg'))
