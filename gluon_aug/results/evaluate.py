"""Evaluate a finished run on its test set: accuracy, per class, confusion, mistakes.

``evaluate_run(path)`` is what ``python -m train.evaluate`` calls. It rebuilds
the net as the run last evaluated it (``trained.evaluation_net``: each
device's own parameters on the run's device layout) and reads the test set
as the run read it (``run.build.run_test_loader``: its batch size, its
--limit-test, in order), so the accuracy it prints is the run's final test
accuracy exactly, computed by the book's ``evaluate_accuracy_gpus``.

The evaluation itself is one function, ``evaluator(net, test_iter, split_f)
-> Predictions``; ``predict_test_set`` is the book's. A test-time
augmentation evaluator plugs in with the same signature (averaging the
probabilities of augmented views) and everything after it (table, pictures,
eval.json) stays as it is.
"""
import os
from dataclasses import dataclass

import numpy as onp

from ..book.ch13 import evaluate_accuracy_gpus
from ..book.devices import split_batch
from ..data.cifar import check_cifar_folder, CLASSES, find_cifar_files, read_cifar_bin, sha1_of
from ..data.download import ensure_cifar10
from ..errors import UsageError
from ..files import atomic_path, write_json
from ..run.build import run_test_loader
from ..run.ingredients import TTA
from ..run.outputs import prepare_out_dir
from .figures import plot_confusion, plot_mistakes
from .predict import softmax
from .run_folder import describe, evaluation_net, open_run

MISTAKES = 24   # images in mistakes.png (4 rows of 6), most confident first
OUT = 'eval'    # the default output folder, inside the run's


@dataclass
class Predictions:
    """What an evaluator returns: the accuracy as it computes it, and per test
    example (in the loader's order) the class probabilities and the label."""
    accuracy: float
    probabilities: onp.ndarray   # (N, classes) float
    labels: onp.ndarray          # (N,) int


class _Recording:
    """Stands in for `net` in ``evaluate_accuracy_gpus`` and keeps its outputs."""

    def __init__(self, net):
        self.net, self.outputs = net, []

    def collect_params(self):
        return self.net.collect_params()

    def __call__(self, X):
        y = self.net(X)
        self.outputs.append(y)
        return y


def predict_test_set(net, test_iter, split_f=split_batch):
    """The book's evaluation (``evaluate_accuracy_gpus``), keeping every prediction."""
    recording, labels = _Recording(net), []

    def batches():
        for features, y in test_iter:
            labels.append(y.asnumpy())
            yield features, y
    accuracy = evaluate_accuracy_gpus(recording, batches(), split_f)
    logits = onp.concatenate([o.asnumpy() for o in recording.outputs])
    return Predictions(accuracy, softmax(logits),
                       onp.concatenate(labels).astype(int))


def test_data(run, data=None):
    """The folder to evaluate on: `data`, else the run's own --data; checked whole."""
    root = data if data is not None else run.config.data
    if root is None:
        return ensure_cifar10()   # the run read Gluon's location, as the book does
    if data is None and not os.path.isdir(root):
        raise UsageError(f"the run's data folder {root!r} is not here (relative paths are "
                         "taken from the current folder); pass --data DIR, a folder with "
                         "CIFAR-10's binary files")
    check_cifar_folder(root)   # the layout, and labels within CIFAR-10's 10 classes
    return root


def score_predictions(pred, images):
    """Per-class counts, the confusion matrix and the most confident mistakes."""
    predicted = pred.probabilities.argmax(axis=1)
    n = len(CLASSES)
    confusion = onp.zeros((n, n), dtype=int)
    onp.add.at(confusion, (pred.labels, predicted), 1)
    totals, correct = confusion.sum(axis=1), onp.diag(confusion)
    per_class = [{'class': c, 'correct': int(k), 'images': int(t),
                  'accuracy': float(k / t) if t else None}
                 for c, k, t in zip(CLASSES, correct, totals)]
    confidence = pred.probabilities[onp.arange(len(predicted)), predicted]
    wrong = onp.flatnonzero(predicted != pred.labels)
    worst = wrong[onp.argsort(-confidence[wrong], kind='stable')][:MISTAKES]
    mistakes = [{'index': int(i), 'true': int(pred.labels[i]), 'predicted': int(predicted[i]),
                 'confidence': float(confidence[i])} for i in worst]
    return {'examples': len(predicted), 'correct': int(correct.sum()),
            'accuracy': pred.accuracy, 'per_class': per_class,
            'confusion': confusion.tolist(), 'mistakes': mistakes,
            'predictions': predicted.tolist()}


def format_per_class(per_class):
    """The per-class accuracy as a markdown table."""
    lines = ['| class | correct | images | accuracy |', '|---|---|---|---|']
    for r in per_class:
        acc = '-' if r['accuracy'] is None else f"{r['accuracy']:.3f}"
        lines.append(f"| {r['class']} | {r['correct']} | {r['images']} | {acc} |")
    return '\n'.join(lines)


def evaluate_run(path, data=None, out=None, tta=None):
    """Evaluate the finished run in `path` on its test set (or `data`'s); print the
    accuracy and the per-class table; write confusion.png, mistakes.png and
    eval.json into `out` (default: path/eval). Returns eval.json's content.

    `tta`: test-time augmentation level (``ingredients.TTA``: 0 none, 1 the
    mirror, 2 also 1 px shifts); None: the run's recipe's own, as its last
    evaluation used (the book's: 0, the fast recipe's: 2)."""
    run = open_run(path)
    if tta is None:
        tta = run.recipe.tta
    if tta not in (0, 1, 2):
        raise UsageError(f"--tta must be 0, 1 or 2, got {tta!r}")
    root = test_data(run, data)
    out = os.path.join(path, OUT) if out is None else out
    loaded = evaluation_net(run)
    test_file = find_cifar_files(root)[1]
    run_test = (loaded.data or {}).get(os.path.basename(test_file))
    same = None if run_test is None else run_test == [os.path.getsize(test_file),
                                                      sha1_of(test_file)]
    prepare_out_dir(out, overwrite=True)   # every input checked: from here on we write
    net = TTA(loaded.net, tta) if tta else loaded.net
    pred = predict_test_set(net, run_test_loader(run.config, run.recipe, root=root,
                                                 num_workers=0), split_batch)
    images, labels = (a[:run.config.limit_test] for a in read_cifar_bin(test_file))
    if not onp.array_equal(pred.labels, labels):   # the loader's order is the file's
        raise RuntimeError("the predictions came in another order than the test file's")
    report = {'run': path, 'data': root, 'same_test_data': same,
              'run_test_acc': run.metrics.get('final', {}).get('test_acc'),
              'parameters': loaded.source, 'devices': str(loaded.devices), 'note': loaded.note,
              'tta': tta, 'classes': list(CLASSES),
              **score_predictions(pred, images)}
    write_report(out, report, images, f"{os.path.basename(os.path.abspath(path))}: "
                                      f"{describe(run)}")
    print_report(report)
    print(f"wrote {os.path.join(out, 'confusion.png')}, mistakes.png, eval.json")
    return report


def write_report(out, report, images, title):
    """confusion.png, mistakes.png and eval.json of `report` into `out`."""
    n, wrong = report['examples'], report['examples'] - report['correct']
    hint = '; free space or pass another --out'   # each file whole, or not at all
    with atomic_path(os.path.join(out, 'confusion.png'), hint) as tmp:
        plot_confusion(report['confusion'], CLASSES, tmp,
                       f"{title}\ntest acc {report['accuracy']:.3f} on {n} images")
    with atomic_path(os.path.join(out, 'mistakes.png'), hint) as tmp:
        plot_mistakes(images, report['mistakes'], CLASSES, tmp,
                      f"{title}: the most confident of {wrong} mistakes")
    write_json(os.path.join(out, 'eval.json'), report)


def print_report(report):
    """Where the parameters came from, the accuracy beside the run's, the table."""
    print(f"parameters: {report['parameters']} on {report['devices']}"
          + (f"\nnote: {report['note']}" if report['note'] else ''))
    run_acc = report['run_test_acc']
    compared = ('' if run_acc is None else f"; the run's final test acc: {run_acc:.3f}" + (
        ' (on other test data)' if report['same_test_data'] is False else ''))
    print(f"test acc {report['accuracy']:.3f} ({report['correct']}/{report['examples']})"
          f"{compared}")
    print(format_per_class(report['per_class']))
