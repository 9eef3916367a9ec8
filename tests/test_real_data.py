"""One real-data check: a small model trained briefly on the shared CIFAR-10 subset, then
evaluated and asked about the book's cat photo."""
import json
import os

import pytest

from gluon_aug.data.cifar import CLASSES

from conftest import CAT, SUBSET, read_json, run_module

pytestmark = pytest.mark.skipif(
    not os.path.isdir(SUBSET),
    reason=f'the shared CIFAR-10 subset is not at {SUBSET} (see DEVELOPERS.md)')


@pytest.fixture(scope='module')
def subset_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('real') / 'run')
    proc = run_module('train.cifar', '--aug', 'flip', '--data', SUBSET,
                      '--model', 'cifar_resnet20_v1', '--epochs', '3', '--limit-train', '4096',
                      '--limit-test', '1000', '--batch-size', '128', '--devices', 'cpu',
                      '--num-workers', '0', '--seed', '0', '--no-progress', '--out', out)
    assert proc.returncode == 0, proc.stderr
    return out


def test_small_model_on_the_real_subset_clearly_beats_chance(subset_run):
    metrics = read_json(os.path.join(subset_run, 'metrics.json'))
    accs = [e['test_acc'] for e in metrics['epochs']]
    # 10 classes: chance is 0.10 (seen here: about 0.42 after 3 epochs, ~35 s)
    assert accs[-1] > 0.25, accs
    assert metrics['epochs'][-1]['train_loss'] < metrics['epochs'][0]['train_loss']


def test_the_real_run_evaluates_to_its_own_test_accuracy(subset_run, tmp_path):
    out = str(tmp_path / 'eval')
    proc = run_module('train.evaluate', subset_run, '--out', out)
    assert proc.returncode == 0, proc.stderr
    report = read_json(os.path.join(out, 'eval.json'))
    final = read_json(os.path.join(subset_run, 'metrics.json'))['final']['test_acc']
    assert report['accuracy'] == final and report['examples'] == 1000   # --limit-test
    assert report['same_test_data'] is True


@pytest.mark.skipif(not os.path.isfile(CAT), reason=f'the book photo is not at {CAT}')
def test_the_real_run_classifies_the_books_cat_photo(subset_run):
    proc = run_module('train.predict', subset_run, CAT, '--json')
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)
    assert result['image'] == CAT and len(result['top']) == 3
    assert {t['class'] for t in result['top']} <= set(CLASSES)
