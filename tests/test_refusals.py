"""Bad input the library refuses before it touches the disk: one UsageError
naming the setting and the way out, and no --out folder left behind. (The
command line turns each into one line and exit status 2: tests/test_cli.py.)"""
import dataclasses
import os

import pytest

import gluon_aug
from gluon_aug import UsageError
from gluon_aug.run.cifar import check_resumable
from gluon_aug.run.config import RunConfig, settle
from gluon_aug.run.launcher import check_job
from gluon_aug.run.outputs import prepare_out_dir

CASES = [
    ({'seed': -1}, '--seed must be an integer from 0 to 4294967295, got -1'),
    ({'seed': 2 ** 40}, '--seed must be an integer from 0 to'),
    ({'seed': 1.5}, '--seed must be an integer'),
    ({'recipe': 'fast', 'model': 'resnet18'}, "whitens with fastnet's first layer.*--without whitening"),
    ({'recipe': 'fast', 'aug': 'flip-crop', 'without': ('alt-flip',)},
     "--aug replaces the fast recipe's flips and shifts"),
    ({'recipe': 'fast', 'normalize': True}, 'on its own; drop --normalize'),
    ({'recipe': 'fastest'}, "--recipe 'fastest' is not one of: book, fast"),
    ({'without': ('tta',)}, '--without switches off ingredients of --recipe fast'),
    ({'kvstore': 'dist_async', 'resume': 'somewhere'}, 'dist_async keeps the optimizer state'),
    ({'epochs': 0}, '--epochs must be a positive integer, got 0'),
    ({'lr': float('nan')}, '--lr must be a positive number'),
    ({'num_workers': -1}, '--num-workers must be 0 or more'),
    ({'eval_every': -1}, '--eval-every must be 0 .* or a positive integer, got -1'),
    ({'book': True, 'eval_every': 2}, "--book runs the chapter's code path.*--eval-every"),
    ({'loader_timeout': 0}, '--loader-timeout must be a positive number'),
    ({'book': True, 'model': 'fastnet'}, 'fastnet initializes itself .* drop --model fastnet'),
    ({'book': True, 'seed': 3}, "--book runs the chapter's code path.*drop --seed"),
]


@pytest.mark.parametrize('settings, message', CASES, ids=[m[:30] for _, m in CASES])
def test_bad_settings_are_refused_before_anything_is_written(settings, message, tmp_path):
    out = tmp_path / 'run'
    with pytest.raises(UsageError, match=message):
        gluon_aug.run_cifar(data=str(tmp_path / 'no-data'), out=str(out), **settings)
    assert not out.exists()


def test_the_fast_recipe_with_its_own_model_or_without_whitening_is_accepted():
    assert settle(RunConfig(recipe='fast')).config.model == 'fastnet'
    s = settle(RunConfig(recipe='fast', model='resnet18', without=('whitening',)))
    assert s.config.model == 'resnet18' and not s.recipe.whitening


def test_out_and_resume_naming_two_folders_are_refused(tmp_path):
    with pytest.raises(UsageError, match='--out .* and --resume .* differ'):
        gluon_aug.run_cifar(out=str(tmp_path / 'a'), resume=str(tmp_path / 'b'))
    assert os.listdir(tmp_path) == []


def test_a_resume_past_the_runs_epochs_is_refused():
    run = settle(RunConfig(seed=1, epochs=3, resume='r')).config
    state = {'info': {'config': dataclasses.asdict(run), 'data': {}}, 'epoch': 3}
    check_resumable(state, run, {})
    with pytest.raises(UsageError, match='has finished 3 epochs, more than --epochs 2'):
        check_resumable(state, dataclasses.replace(run, epochs=2), {})


def test_an_out_that_is_a_file_is_refused(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('mine')
    with pytest.raises(UsageError, match='is a file, not a folder'):
        prepare_out_dir(str(blocker), overwrite=True)
    assert blocker.read_text() == 'mine'


@pytest.mark.parametrize('kwargs, message', [
    ({'port': 0}, '--port must be 1-65535'),
    ({'port': 70000}, '--port must be 1-65535'),
    ({'threads_per_worker': 0}, '--threads-per-worker must be at least 1'),
    ({'grace': 0}, '--grace must be a positive number'),
    ({'num_workers': 0}, '-n/--num-workers must be at least 1'),
    ({'command': ['--']}, 'no worker command'),
])
def test_launcher_settings_are_checked(kwargs, message):
    job = dict(command=['--', 'true'], num_workers=1, num_servers=1, port=None,
               threads_per_worker=None, grace=1.0)
    with pytest.raises(UsageError, match=message):
        check_job(**dict(job, **kwargs))


def test_book_accepts_no_hybridize_which_changes_nothing_there():
    """--book runs the net imperatively whatever --no-hybridize says."""
    assert settle(RunConfig(book=True, hybridize=False)).config.hybridize is False


def test_a_fast_checkpoint_from_before_0_2_continues_with_the_recipes_own_augmentation():
    """0.1 checkpoints have no dtype, mixup or cutmix (their defaults), and a fast run
    recorded aug 'flip' for the recipe's own flips and shifts (aug None since 0.2)."""
    import dataclasses
    from gluon_aug.run.config import RunConfig, resume_view, settle
    now = settle(RunConfig(recipe='fast', seed=1)).config
    old = {k: v for k, v in dataclasses.asdict(now).items()
           if k not in ('dtype', 'mixup', 'cutmix')}
    assert resume_view(dict(old, aug='flip')) == resume_view(now)
    book = settle(RunConfig(seed=1)).config
    old_book = {k: v for k, v in dataclasses.asdict(book).items() if k != 'dtype'}
    assert resume_view(old_book) == resume_view(book) and resume_view(book)['aug'] == 'flip'
