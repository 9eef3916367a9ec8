"""The run's settings travel through few modules (issue 18: "settings resolved once").

``python -m train.cifar`` turns its flags into one ``RunConfig``, settles it
once into ``Settings`` (config + recipe), and from there on passes plain values
(a path, a seed, a batch size) down to the parts that need them. This test
runs ``train.cifar``'s ``main`` on tiny data and records, for every read of an
attribute of a ``RunConfig``, ``Settings`` or ``Recipe``, the module whose code
made it. A change that hands the settings object to a loader, a transform or
the book's code makes that module appear here, and the test fail.
"""
import sys

import pytest

# every module allowed to read the settings: the entry point, the flags and
# their checks, the recipes, the run's driver and the four places it hands them
# to (its folders, its parts, its record, its loop)
ALLOWED = ['train.cifar', 'gluon_aug.run.config', 'gluon_aug.run.recipes',
           'gluon_aug.run.cifar', 'gluon_aug.run.outputs', 'gluon_aug.run.build',
           'gluon_aug.run.record', 'gluon_aug.run.book_mode']
LIMIT = 8   # the bound on the modules the configuration passes through


@pytest.fixture
def readers(monkeypatch):
    """{module name: attributes read} for reads of the settings' three types."""
    from gluon_aug.run.config import RunConfig, Settings
    from gluon_aug.run.recipes import Recipe
    seen = {}

    def record(cls):
        original = cls.__getattribute__

        def getattribute(self, name):
            if not name.startswith('__'):
                module = sys._getframe(1).f_globals.get('__name__', '?')
                if module not in ('dataclasses', 'copy', 'reprlib'):
                    seen.setdefault(module, set()).add(name)
            return original(self, name)
        monkeypatch.setattr(cls, '__getattribute__', getattribute)

    for cls in (RunConfig, Settings, Recipe):
        record(cls)
    return seen


@pytest.mark.parametrize('flags', [
    ['--aug', 'flip', '--model', 'cifar_resnet20_v1', '--epochs', '1', '-b', '8',
     '--checkpoint-every', '2', '--seed', '1', '-j', '0'],
    ['--recipe', 'fast', '--epochs', '1', '-b', '8', '--seed', '1'],
    ['--book', '--model', 'cifar_resnet20_v1', '--epochs', '1', '-b', '8'],
], ids=['default', 'fast', 'book'])
def test_the_settings_pass_through_at_most_eight_modules(readers, tiny_data, tmp_path, flags):
    from train import cifar
    status = cifar.main(flags + ['--data', tiny_data, '--out', str(tmp_path / 'run'),
                                 '--no-progress'])
    assert status in (0, None)
    modules = sorted(m for m in readers if not m.startswith('conftest'))
    assert 'gluon_aug.run.build' in modules or '--book' in flags   # the probe sees reads
    outside = [f"{m} reads {sorted(readers[m])}" for m in modules if m not in ALLOWED]
    assert not outside, "the settings reach modules beyond the run's driver:\n" + \
        "\n".join(outside)
    assert len(modules) <= LIMIT, modules
