"""The chapter's exercise 1 as one call: train a fresh net per preset, compare.

Every preset gets the same seed, data, model and budget, and a freshly
initialized network (``run_cifar`` builds a new one each time), so the only
difference between rows is the augmentation. Results go to ``compare.md``
(a table with the train-test gap, and the configuration that produced it),
``compare.json`` and ``compare.png`` (train and test accuracy per epoch).
"""
import dataclasses
import json
import os
import shlex
import time

from matplotlib.figure import Figure

from ..augment.presets import get_preset
from ..book.devices import parse_devices
from ..data.cifar import check_cifar_folder
from ..errors import Interrupted, reason, Terminated, UsageError
from ..files import atomic_path, atomic_write, write_json
from ..seeding import draw_seed
from .cifar import resume_cifar, run_cifar
from .config import describe_config, recorded_config, RunConfig, settle, typed_config
from .outputs import prepare_out_dir
from .record import file_fingerprint

COLUMNS = ('preset', 'train loss', 'train acc', 'test acc', 'gap (train - test)',
           'examples/sec', 'wall time (s)')


def comparison_row(name, metrics):
    final = metrics['final']
    return {'preset': name, 'train_loss': final['train_loss'], 'train_acc': final['train_acc'],
            'test_acc': final['test_acc'], 'gap': final['train_acc'] - final['test_acc'],
            'examples_per_sec': final['examples_per_sec'],
            'wall_seconds': final['wall_seconds']}


def format_table(rows):
    """A markdown table of the summary rows (3 decimals, as the book prints)."""
    lines = ['| ' + ' | '.join(COLUMNS) + ' |', '|' + '---|' * len(COLUMNS)]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['train_loss']:.3f} | {r['train_acc']:.3f} | "
                     f"{r['test_acc']:.3f} | {r['gap']:+.3f} | {r['examples_per_sec']:.1f} | "
                     f"{r['wall_seconds']:.0f} |")
    return '\n'.join(lines)


def plot_curves(runs, path):
    """Train (solid) and test (dashed) accuracy per epoch, one colour per preset."""
    fig = Figure(figsize=(5.5, 3.5))   # no pyplot: the user's backend stays as it is
    ax = fig.add_subplot()
    for i, (name, metrics) in enumerate(runs.items()):
        epochs = [e['epoch'] for e in metrics['epochs']]
        color = f'C{i}'
        ax.plot(epochs, [e['train_acc'] for e in metrics['epochs']], '-', color=color,
                label=f'{name} train')
        ax.plot(epochs, [e['test_acc'] for e in metrics['epochs']], '--', color=color,
                label=f'{name} test')
    ax.set_xlabel('epoch')
    ax.set_ylabel('accuracy')
    ax.set_ylim(0, 1)
    ax.grid()
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)


PLAN = 'compare.plan.json'   # what a stopped comparison continues with


def _arm_finished(folder):
    """The metrics of the finished run in `folder`, or None (absent, unfinished, or
    its model.params not the one its metrics.json records)."""
    try:
        with open(os.path.join(folder, 'metrics.json')) as f:
            metrics = json.load(f)
        recorded = metrics['files']['model.params']
        if recorded == file_fingerprint(os.path.join(folder, 'model.params')):
            return metrics
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def check_arms(augs, config):
    """UsageError for a comparison that cannot run, before any folder is made."""
    if not augs:
        raise UsageError("--augs needs at least one preset name")
    if len(set(augs)) != len(augs):
        raise UsageError(f"--augs names a preset twice: {' '.join(augs)}")
    for name in augs:
        get_preset(name)  # unknown names fail now, before any training
        settle(dataclasses.replace(config, aug=name, out=None))   # every arm's settings
    parse_devices(config.devices)
    if config.data is not None:
        check_cifar_folder(config.data)


def compare_presets(augs, config=None, *, out=None, print_table=False, resume=False):
    """Train one fresh net per preset in `augs` with `config` (a ``RunConfig``;
    its `aug` is ignored; with `book`, each arm runs the chapter's code path, as
    its exercise 1 asks); write the summary into `out` (default: config.out) and
    return (rows, markdown table). With `resume`, continue the comparison stopped
    in `out` with its own settings (`augs` and `config` are not given): finished
    arms are kept, a stopped one resumes from its checkpoint, the rest run."""
    if resume:
        augs, config = _read_plan(out)
    config = config or RunConfig()
    out = config.out if out is None else out
    if out is None:
        raise UsageError("compare needs an --out folder for its table and runs")
    if not resume:
        check_arms(augs, config)
        if os.path.exists(os.path.join(out, 'compare.json')) and not config.overwrite:
            raise UsageError(f"--out {out!r} already holds a comparison (compare.json); pass "
                             "another folder, or --overwrite to replace it")
        if os.path.exists(os.path.join(out, PLAN)) and not config.overwrite:
            raise UsageError(f"--out {out!r} holds a stopped comparison ({PLAN}); continue it "
                             f"with python -m train.compare --resume {out}, or pass "
                             "--overwrite to start it again")
        prepare_out_dir(out, overwrite=True)
        # --book: each arm is the book's train_with_data_aug, unseeded as the book is
        if not config.book and config.seed is None:
            config = dataclasses.replace(config, seed=draw_seed())
        write_json(os.path.join(out, PLAN), {'augs': list(augs),
                                             'config': dataclasses.asdict(config)})
    start = time.perf_counter()
    runs = {}
    for k, name in enumerate(augs, 1):
        folder = os.path.join(out, name)
        try:
            runs[name] = (resume and _arm_finished(folder)) or (
                resume_cifar(folder) if resume and os.path.exists(
                    os.path.join(folder, 'checkpoint.npz')) and not config.book
                else run_cifar(config, aug=name, out=folder, overwrite=True))
        except (Interrupted, KeyboardInterrupt) as err:   # KeyboardInterrupt: a --book arm
            status = getattr(err, 'status', 143 if isinstance(err, Terminated) else 130)
            raise Interrupted(f"stopped by {'SIGTERM' if status == 143 else 'Ctrl-C'} in arm "
                              f"{name} ({k} of {len(augs)}); continue the comparison with "
                              f"python -m train.compare --resume {shlex.quote(out)}",
                              status) from None
    rows = [comparison_row(name, m) for name, m in runs.items()]
    config = dict(runs[augs[0]]['config'], aug=list(augs))
    command = runs[augs[0]]['run']['command']
    table = format_table(rows)
    md = ['# Augmentation comparison', '',
          ("Each preset trained a freshly initialized net through the book's "
           "train_with_data_aug (--book, unseeded)" if config['book'] else
           "Each preset trained a freshly initialized net with the same seed")
          + f", data and budget: {describe_config(config)}.", '',
          'Accuracies are those of the last epoch; the gap is train accuracy minus test '
          'accuracy (a large gap means overfitting). examples/sec counts only the timed '
          'training steps, as the book does; wall time covers the whole run.', '',
          table, '', '![accuracy per epoch](compare.png)', '',
          f"Command: `{command}`", '']
    atomic_write(os.path.join(out, 'compare.md'), '\n'.join(md).encode())
    write_json(os.path.join(out, 'compare.json'),
               {'config': config, 'rows': rows, 'wall_seconds': time.perf_counter() - start,
                'resumed': resume, 'runs': {n: m['epochs'] for n, m in runs.items()}})
    plot_curves(runs, os.path.join(out, 'compare.png'))
    os.remove(os.path.join(out, PLAN))   # finished: nothing to continue
    if print_table:
        print(table)
    return rows, table


def _read_plan(out):
    """(augs, RunConfig) of the comparison stopped in `out`."""
    if out is None:
        raise UsageError("--resume needs the comparison's --out folder")
    if os.path.exists(os.path.join(out, 'compare.json')):
        raise UsageError(f"the comparison in {out!r} has finished (compare.json); nothing to "
                         "continue")
    try:
        with open(os.path.join(out, PLAN)) as f:
            plan = json.load(f)
        augs = plan['augs']
        config = typed_config(recorded_config(plan['config'], f"{out}/{PLAN}"))
        if not (isinstance(augs, list) and all(isinstance(a, str) for a in augs)):
            raise ValueError(f"augs is {augs!r}")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UsageError(f"--resume {out!r} holds no comparison to continue ({PLAN}: "
                         f"{type(err).__name__}: {reason(err)}); pass the --out folder of a "
                         "stopped python -m train.compare") from None
    except UsageError as err:
        raise UsageError(f"--resume {out!r}: {err}") from None
    check_arms(augs, config)
    return augs, config
