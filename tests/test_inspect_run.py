"""python -m train.evaluate: the run's own test accuracy, exactly; per class, confusion,
mistakes; an evaluator that can be swapped (test-time augmentation, later)."""
import os
import re
import shutil

import numpy as onp
import pytest

from gluon_aug.data.cifar import CLASSES
from gluon_aug.results import evaluate as evaluate_module
from gluon_aug.results.evaluate import Predictions, evaluate_run, predict_test_set, score_predictions
from gluon_aug.run.build import run_test_loader
from gluon_aug.results.run_folder import evaluation_net, load_params, open_run

from conftest import read_json, run_module


def test_evaluate_prints_the_runs_final_test_accuracy_exactly(run_cpu2, tmp_path):
    """Split-batch on cpu:2, --limit-test 40: the CLI prints and records the very
    float the run recorded, on the same 40 images."""
    out = str(tmp_path / 'eval')
    proc = run_module('train.evaluate', run_cpu2, '--out', out)
    assert proc.returncode == 0, proc.stderr
    metrics, report = read_json(os.path.join(run_cpu2, 'metrics.json')), read_json(
        os.path.join(out, 'eval.json'))
    run_acc = metrics['final']['test_acc']
    assert report['accuracy'] == run_acc and report['run_test_acc'] == run_acc
    assert report['examples'] == 40 and len(report['predictions']) == 40   # not all 48
    assert report['correct'] == round(run_acc * 40)
    assert report['devices'] == '[cpu(0), cpu(1)]' and report['same_test_data'] is True
    line = next(l for l in proc.stdout.splitlines() if l.startswith('test acc'))
    assert line == (f"test acc {run_acc:.3f} ({report['correct']}/40); the run's final test "
                    f"acc: {run_acc:.3f}")
    assert sum(r['images'] for r in report['per_class']) == 40
    for name in ('confusion.png', 'mistakes.png'):
        with open(os.path.join(out, name), 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    table = [l for l in proc.stdout.splitlines() if l.startswith('| ')]
    assert table[0] == '| class | correct | images | accuracy |' and len(table) == 1 + 10
    assert all(re.fullmatch(rf'\| {c} \| \d+ \| \d+ \| (\d\.\d{{3}}|-) \|', row)
               for c, row in zip(CLASSES, table[1:]))


def test_evaluation_keeps_each_devices_own_batchnorm_statistics(run_cpu2):
    """model.params averages the two devices' statistics, which changes the
    probabilities; the evaluation net keeps each device's, as the run did."""
    run = open_run(run_cpu2)
    loaded = evaluation_net(run)
    ours = predict_test_set(loaded.net, run_test_loader(run.config, run.recipe, num_workers=0))
    averaged = load_params(run, loaded.devices)
    averaged.hybridize(static_alloc=True, static_shape=True)
    theirs = predict_test_set(averaged, run_test_loader(run.config, run.recipe, num_workers=0))
    assert abs(ours.probabilities - theirs.probabilities).max() > 1e-4
    assert ours.accuracy == read_json(os.path.join(run_cpu2, 'metrics.json'))['final'][
        'test_acc']


def test_without_a_checkpoint_a_one_device_run_evaluates_from_model_params(run_cpu1,
                                                                            tmp_path):
    copy = tmp_path / 'run'
    shutil.copytree(run_cpu1, copy)
    os.remove(copy / 'checkpoint.npz')
    report = evaluate_run(str(copy))
    assert report['parameters'] == 'model.params' and report['note'] is None
    assert report['accuracy'] == report['run_test_acc']
    assert report['same_test_data'] is None   # the fingerprint lives in the checkpoint
    assert sorted(os.listdir(copy / 'eval')) == ['confusion.png', 'eval.json', 'mistakes.png']


def test_summary_counts_classes_confusion_and_the_most_confident_mistakes():
    labels = onp.array([0, 0, 1, 1, 1, 2])
    probabilities = onp.full((6, 10), 0.01)
    for i, (cls, p) in enumerate([(0, .9), (1, .6), (2, .8), (1, .5), (2, .7), (2, .95)]):
        probabilities[i, cls] = p
    pred = Predictions(accuracy=3 / 6, probabilities=probabilities, labels=labels)
    images = onp.zeros((6, 32, 32, 3), onp.uint8)
    s = score_predictions(pred, images)
    assert s['correct'] == 3 and s['examples'] == 6
    assert s['confusion'][0][:3] == [1, 1, 0] and s['confusion'][1][:3] == [0, 1, 2]
    assert s['confusion'][2][:3] == [0, 0, 1]
    by_class = {r['class']: r for r in s['per_class']}
    assert by_class['airplane'] == {'class': 'airplane', 'correct': 1, 'images': 2,
                                    'accuracy': 0.5}
    assert by_class['automobile']['accuracy'] == pytest.approx(1 / 3)
    assert by_class['truck'] == {'class': 'truck', 'correct': 0, 'images': 0, 'accuracy': None}
    assert [(m['index'], m['true'], m['predicted']) for m in s['mistakes']] == [
        (2, 1, 2), (4, 1, 2), (1, 0, 1)]   # confidence 0.8, 0.7, 0.6
    assert s['predictions'] == [0, 1, 2, 1, 2, 2]


def test_another_evaluator_plugs_in(run_cpu1, tmp_path, monkeypatch):
    """What a test-time augmentation evaluator will do: same signature, its own
    predictions; the table, the pictures and eval.json follow them."""
    def everything_is_a_cat(net, test_iter, split_f):
        labels = onp.concatenate([y.asnumpy() for _, y in test_iter]).astype(int)
        probabilities = onp.zeros((len(labels), 10))
        probabilities[:, CLASSES.index('cat')] = 1
        return Predictions(float(onp.mean(labels == 3)), probabilities, labels)
    monkeypatch.setattr(evaluate_module, 'predict_test_set', everything_is_a_cat)
    report = evaluate_run(run_cpu1, out=str(tmp_path / 'tta'))
    assert set(report['predictions']) == {3}
    cats = next(r for r in report['per_class'] if r['class'] == 'cat')
    assert cats['accuracy'] in (1.0, None)
    assert read_json(str(tmp_path / 'tta' / 'eval.json'))['predictions'] == report['predictions']


def test_d2l_resnet18_runs_evaluate_exactly_too(run_resnet18, tmp_path):
    report = evaluate_run(run_resnet18, out=str(tmp_path / 'eval'))
    assert report['accuracy'] == report['run_test_acc'] and report['examples'] == 16


def test_other_test_data_is_said_so(run_cpu1, tmp_path, capsys):
    from conftest import make_cifar_folder
    other = str(tmp_path / 'other')
    make_cifar_folder(other, n_train=(8,), n_test=48, seed=7)
    report = evaluate_run(run_cpu1, data=other, out=str(tmp_path / 'eval'))
    assert report['same_test_data'] is False and report['data'] == other
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith('test acc'))
    assert line.endswith('(on other test data)')


def recording_predictions(monkeypatch):
    """The probabilities of every ``predict_test_set`` call evaluate makes, in a list."""
    seen = []

    def recording(net, test_iter, split_f):
        seen.append(predict_test_set(net, test_iter, split_f).probabilities)
        return Predictions(*vars(predict_test_set(net, test_iter, split_f)).values())
    monkeypatch.setattr(evaluate_module, 'predict_test_set', recording)
    return seen


def test_a_fast_recipe_run_evaluates_with_its_tta_to_its_own_accuracy(run_fast, tmp_path,
                                                                      monkeypatch):
    """The run's last evaluation averaged 6 views (TTA level 2): so does evaluate by
    default, and reproduces the accuracy exactly; --tta 0 sees other probabilities."""
    final = read_json(os.path.join(run_fast, 'metrics.json'))['final']['test_acc']
    seen = recording_predictions(monkeypatch)
    report = evaluate_run(run_fast, out=str(tmp_path / 'tta'))
    assert report['tta'] == 2 and report['accuracy'] == final
    plain = evaluate_run(run_fast, out=str(tmp_path / 'plain'), tta=0)
    assert plain['tta'] == 0
    assert abs(seen[0] - seen[1]).max() > 1e-4


def test_a_full_disk_while_writing_the_report_is_one_line_and_no_partial_file(run_cpu1,
                                                                               tmp_path,
                                                                               monkeypatch):
    import errno
    from gluon_aug.errors import RunError
    from gluon_aug.results import figures

    def full_disk_savefig(fig, path, *args, **kwargs):
        with open(path, 'wb') as f:
            f.write(b'\x89PNG half')   # a partial file, then the disk is full
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(figures.Figure, 'savefig', full_disk_savefig)
    out = tmp_path / 'eval'
    with pytest.raises(RunError, match='confusion.png .the disk is full.; free space'):
        evaluate_run(run_cpu1, out=str(out))
    assert os.listdir(out) == []   # no 0-byte or partial confusion.png


@pytest.mark.skipif('avx512f' not in open('/proc/cpuinfo').read(),
                    reason='bfloat16 needs AVX-512 (oneDNN 2.4)')
def test_a_bfloat16_run_evaluates_in_bfloat16_to_its_own_accuracy(tmp_path_factory, tiny_data,
                                                                  monkeypatch):
    from conftest import train_tiny_run
    from gluon_aug.results import run_folder
    run = train_tiny_run(tmp_path_factory, tiny_data, 'bf16', recipe='fast', model=None,
                         devices='cpu', epochs=1, dtype='bfloat16')
    final = read_json(os.path.join(run, 'metrics.json'))['final']['test_acc']
    seen = recording_predictions(monkeypatch)
    assert evaluate_run(run, out=str(tmp_path_factory.mktemp('e') / 'bf16'))['accuracy'] == final
    monkeypatch.setattr(run_folder, 'compute_in', lambda net, dtype: net)   # float32 instead
    evaluate_run(run, out=str(tmp_path_factory.mktemp('e') / 'f32'))
    assert abs(seen[0] - seen[-1]).max() > 1e-4   # the run's types, not float32
