"""The evaluation's two pictures are drawn headless, whatever the counts."""
import numpy as onp

from gluon_aug.data.cifar import CLASSES
from gluon_aug.results.figures import plot_confusion, plot_mistakes


def _png(path):
    with open(path, 'rb') as f:
        return f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_confusion_with_an_empty_class_and_mistakes_of_every_count(tmp_path):
    confusion = onp.diag([5] * 10)
    confusion[3, 5] = 2
    confusion[9, 9] = 0          # no truck in this test set: its row stays blank
    plot_confusion(confusion, CLASSES, str(tmp_path / 'c.png'), 'title')
    images = onp.zeros((4, 32, 32, 3), onp.uint8)
    for n in (0, 1, 7):
        mistakes = [{'index': i % 4, 'true': 3, 'predicted': 5, 'confidence': 0.9}
                    for i in range(n)]
        plot_mistakes(images, mistakes, CLASSES, str(tmp_path / f'm{n}.png'), 'title')
    assert all(_png(tmp_path / name) for name in ('c.png', 'm0.png', 'm1.png', 'm7.png'))
    from matplotlib.image import imread
    assert imread(str(tmp_path / 'm7.png')).shape[0] > imread(str(tmp_path / 'm1.png')).shape[0]
