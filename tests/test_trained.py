"""Opening a finished run: every folder that is not one gets one line, exit 2, and
nothing written, from all three commands (evaluate, predict, export)."""
import hashlib
import json
import os
import shutil

import pytest

from gluon_aug.errors import UsageError
from gluon_aug.results.run_folder import open_run, run_devices
from train import evaluate, export, predict

from conftest import assert_one_line_error, make_cifar_folder, run_module


def _copy(run, tmp_path, name='run'):
    dst = tmp_path / name
    shutil.copytree(run, dst)
    return dst


def _edit_config(run, edit):
    path = run / 'metrics.json'
    metrics = json.loads(path.read_text())
    edit(metrics['config'])
    path.write_text(json.dumps(metrics))


def _one_line(capsys, status, *needles):
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.strip()]
    assert status == 2 and len(lines) == 1, (status, err)
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _broken(how, run_cpu1, tmp_path):
    run = _copy(run_cpu1, tmp_path)
    if how == 'missing':
        shutil.rmtree(run)
    elif how == 'unfinished':
        os.remove(run / 'model.params')
        os.remove(run / 'metrics.json')
    elif how == 'empty':
        for name in os.listdir(run):
            os.remove(run / name)
    elif how == 'unknown-key':
        _edit_config(run, lambda c: c.update(mixup_alpha=0.2))
    elif how in PARTS:
        part, value = PARTS[how]
        metrics = json.loads((run / 'metrics.json').read_text())
        metrics[part] = value
        (run / 'metrics.json').write_text(json.dumps(metrics))
    elif how == 'garbage':
        (run / 'metrics.json').write_text('{"config": ')
    elif how == 'nested':
        (run / 'metrics.json').write_text('[' * 100000 + ']' * 100000)
    elif how in TYPED:
        name, value = TYPED[how]
        _edit_config(run, lambda c: c.__setitem__(name, value))
    return str(run)


# a field of the recorded configuration with a value of another type or out of range
TYPED = {'string-bool': ('normalize', 'false'), 'list-model': ('model', ['resnet18']),
         'list-devices': ('devices', ['cpu']),
         'string-epochs': ('epochs', '3'), 'nan-lr': ('lr', float('nan')),
         'no-recipe-value': ('batch_size', None), 'unknown-aug': ('aug', 'magic')}


# a part of metrics.json the readers use, of another type than a run writes there
PARTS = {'list-run': ('run', ['cpu(0)']), 'string-final': ('final', '0.9'),
         'list-versions': ('versions', ['0.2.1']), 'list-epochs': ('epochs', {'1': 0.5}),
         'string-devices': ('run', {'devices': 7}), 'bad-files': ('files', {'model.params': 3})}


BROKEN = [
    ('missing', ['does not exist']),
    ('unfinished', ['holds no model.params: the run did not finish', '--resume']),
    ('empty', ['holds no model.params: the run did not finish', 'finished python -m train.cifar']),
    ('unknown-key', ['not written by this gluon_aug', 'does not know: mixup_alpha']),
    ('garbage', ['metrics.json is unreadable']),
    ('nested', ['metrics.json is unreadable', 'RecursionError']),
    ('string-bool', ["holds a configuration no run makes (normalize is 'false')"]),
    ('list-model', ["model is ['resnet18']"]),
    ('string-epochs', ["epochs is '3'"]),
    ('nan-lr', ['--lr must be a positive number']),
    ('no-recipe-value', ['no value for batch_size']),
    ('unknown-aug', ["--aug 'magic' is not one of"]),
    ('list-devices', ["devices is ['cpu']"]),
    ('list-run', ["its 'run' section is"]),
    ('string-final', ["its 'final' section is '0.9'"]),
    ('list-versions', ["its 'versions' section is"]),
    ('list-epochs', ["its 'epochs' section is"]),
    ('string-devices', ["its 'run' section is"]),
    ('bad-files', ["its 'files' section is"]),
]


@pytest.mark.parametrize('how, needles', BROKEN, ids=[b[0] for b in BROKEN])
def test_a_folder_that_is_not_a_finished_run_is_one_line(how, needles, run_cpu1, tmp_path):
    with pytest.raises(UsageError) as err:
        open_run(_broken(how, run_cpu1, tmp_path))
    assert '\n' not in str(err.value)
    for needle in needles:
        assert needle in str(err.value)


def test_a_setting_missing_from_the_record_takes_its_default_as_on_resume(run_cpu1, tmp_path):
    """One rule for every reader (evaluate, predict, export and --resume): a setting
    written before it existed ran with its default; an unknown one is refused."""
    from gluon_aug.run.config import recorded_config, RunConfig
    run = _copy(run_cpu1, tmp_path)
    _edit_config(run, lambda c: c.pop('normalize'))
    assert open_run(str(run)).config.normalize is RunConfig().normalize
    assert recorded_config({'recipe': 'book'}, 'x')['normalize'] is RunConfig().normalize
    with pytest.raises(UsageError, match='does not know: mixup_alpha'):
        recorded_config({'mixup_alpha': 0.2}, 'x')


def test_the_refusal_of_unknown_settings_names_the_version_only_when_it_differs(run_cpu1,
                                                                                tmp_path):
    from gluon_aug import __version__
    run = _broken('unknown-key', run_cpu1, tmp_path)
    with pytest.raises(UsageError) as err:
        open_run(run)
    assert f'made by gluon_aug {__version__}' not in str(err.value)
    metrics = json.loads((tmp_path / 'run' / 'metrics.json').read_text())
    metrics['versions']['gluon_aug'] = '0.1.0'
    (tmp_path / 'run' / 'metrics.json').write_text(json.dumps(metrics))
    with pytest.raises(UsageError, match="was made by gluon_aug 0.1.0, with settings this "
                                         "gluon_aug does not know: mixup_alpha"):
        open_run(run)


def test_a_bfloat16_run_on_a_cpu_without_avx512_is_told_so(run_cpu1, tmp_path, monkeypatch):
    from gluon_aug.results import run_folder
    run = _copy(run_cpu1, tmp_path)
    _edit_config(run, lambda c: c.update(dtype='bfloat16'))

    def no_avx512():
        raise UsageError('--dtype bfloat16 needs a CPU with AVX-512; drop --dtype')
    monkeypatch.setattr(run_folder, 'check_bf16_cpu', no_avx512)
    with pytest.raises(UsageError) as err:
        run_folder.inference_net(open_run(str(run)))   # the record itself is fine
    assert 'trained with --dtype bfloat16, which this CPU cannot compute' in str(err.value)
    assert 'no run makes' not in str(err.value) and 'drop --dtype' not in str(err.value)


@pytest.mark.parametrize('how', ['unknown-key', 'list-run', 'string-final', 'list-versions'])
@pytest.mark.parametrize('command', ['evaluate', 'predict', 'export'])
def test_every_command_refuses_a_broken_run_and_writes_nothing(command, how, run_cpu1, tmp_path,
                                                               capsys):
    run = _broken(how, run_cpu1, tmp_path)
    image = tmp_path / 'x.png'
    out = tmp_path / 'out'
    argv = {'evaluate': [run, '--out', str(out)], 'predict': [run, str(image)],
            'export': [run, '--out', str(out)]}[command]
    module = {'evaluate': evaluate, 'predict': predict, 'export': export}[command]
    needle = dict(BROKEN)[how][0]
    _one_line(capsys, module.main(argv), needle)
    assert not out.exists() and not os.path.exists(os.path.join(run, 'eval'))


def test_evaluate_refuses_data_that_is_not_cifar10(run_cpu1, tmp_path, capsys):
    not_cifar = tmp_path / 'photos'
    not_cifar.mkdir()
    (not_cifar / 'cat.jpg').write_bytes(b'\xff\xd8\xff')
    _one_line(capsys, evaluate.main([run_cpu1, '--data', str(not_cifar)]),
              'no CIFAR-10 training files')
    labels = tmp_path / 'labels'
    make_cifar_folder(str(labels), n_train=(8,), n_test=8)
    raw = bytearray((labels / 'test_batch.bin').read_bytes())
    raw[3073 * 5] = 12   # the label byte of record 5
    (labels / 'test_batch.bin').write_bytes(bytes(raw))
    _one_line(capsys, evaluate.main([run_cpu1, '--data', str(labels)]),
              "record 5 has label 12, outside CIFAR-10's 10 classes")
    gone = tmp_path / 'gone'
    _one_line(capsys, evaluate.main([run_cpu1, '--data', str(gone)]), 'does not exist')
    assert not os.path.exists(os.path.join(run_cpu1, 'eval'))


def test_evaluate_names_the_runs_data_folder_when_it_moved(run_cpu1, tmp_path, capsys):
    run = _copy(run_cpu1, tmp_path)
    _edit_config(run, lambda c: c.update(data=str(tmp_path / 'moved')))
    _one_line(capsys, evaluate.main([str(run)]), "the run's data folder", 'pass --data DIR')


def test_the_cli_prints_one_line_and_exits_2_without_a_traceback(tmp_path):
    """In a real process (the in-process tests above cover the messages)."""
    missing = str(tmp_path / 'no-run')
    for command in ('train.evaluate', 'train.export'):
        args = [missing] + (['--out', str(tmp_path / 'x')] if command == 'train.export' else [])
        assert_one_line_error(run_module(command, *args), 'does not exist')
    assert not (tmp_path / 'x').exists()


def test_a_gpu_run_evaluates_on_as_many_cpu_contexts_without_those_gpus(run_cpu1):
    run = open_run(run_cpu1)
    run.metrics['run']['devices'] = '[gpu(0), gpu(1)]'
    ctxs, note = run_devices(run, 2)
    assert [str(c) for c in ctxs] == ['cpu(0)', 'cpu(1)']
    assert 'gpu(0), gpu(1)' in note and 'may differ' in note
    run.metrics['run']['devices'] = '[cpu(0), cpu(1)]'
    assert run_devices(run, 2) == ([c for c in ctxs], None)


def test_a_checkpoint_later_than_the_finished_run_says_where_it_stands(run_cpu1, monkeypatch):
    """A finished run resumed (or resumed and stopped) again: its checkpoint is past
    the epochs metrics.json records, and the message says where, in plain words."""
    from gluon_aug.errors import UsageError
    from gluon_aug.results import run_folder
    run = run_folder.open_run(run_cpu1)
    real = run_folder.read_checkpoint

    def later(path):
        state, arrays = real(path)
        return dict(state, batch=3), arrays
    monkeypatch.setattr(run_folder, 'read_checkpoint', later)
    done = len(run.metrics['epochs'])
    with pytest.raises(UsageError, match=rf'was saved at batch 3 of epoch {done + 1}, not at '
                                         rf'the end of the {done} epochs metrics.json records'):
        run_folder.evaluation_net(run)


def test_a_params_file_that_does_not_fit_is_one_line_without_mxnets_traceback(run_cpu1,
                                                                              tmp_path):
    import shutil
    from gluon_aug.results.run_folder import inference_net
    run = tmp_path / 'run'
    shutil.copytree(run_cpu1, run)
    (run / 'model.params').write_bytes(b'not parameters at all' * 10)
    metrics = json.loads((run / 'metrics.json').read_text())   # recorded as the run's own
    metrics['files']['model.params'] = [210, hashlib.sha1(b'not parameters at all' * 10
                                                          ).hexdigest()]
    (run / 'metrics.json').write_text(json.dumps(metrics))
    with pytest.raises(UsageError) as err:
        inference_net(open_run(str(run)))
    message = str(err.value)
    assert 'model.params does not fit model' in message and '\n' not in message
    assert 'Traceback' not in message and 'File "' not in message
