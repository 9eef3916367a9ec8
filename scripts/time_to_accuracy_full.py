"""Time to accuracy at full scale: finished runs on all 50,000 images, side by side.

    python scripts/time_to_accuracy_full.py --row "book recipe" runs/book-full \\
        --row "fast recipe" runs/exercise1/augmented-seed0 runs/exercise1/augmented-seed1
    python scripts/time_to_accuracy_full.py --versus airbench94 \\
        --row airbench94 runs/airbench94-seed0.json runs/airbench94-seed1.json \\
        --row fast94 runs/fast94-seed0 runs/fast94-seed1

Trains nothing: reads each run's metrics.json (and its sessions.json when the
run was continued across sessions, as ``scripts/reproduce_book.py`` logs
them) and writes the full-scale section of docs/TIME_TO_ACCURACY.md, one row
per --row: the seeds, the final test accuracy (mean ± half range), the wall
time, examples/sec, the wall time to 0.848 (the book's), 0.90, 0.93 and 0.94,
and the load average at the end; with --versus LABEL, each run's wall
time over that row's run of the same seed; and docs/time_to_accuracy/full_scale.png,
test accuracy against wall time, one line per run. A run's wall time is the
sum of its sessions when it has a session log (work lost to an interruption
included), else its own; the time to an accuracy is the wall time before the
first epoch plus the epochs' own seconds up to the first epoch that reached it. A RUN may also be the JSON that
``scripts/ref_airbench94.py --out`` writes (airbench94 in PyTorch): its
per-epoch accuracies without TTA, then its final one with TTA at its end.
"""
import os
import shlex
import statistics
import sys

import benchlib

PROG = 'scripts/time_to_accuracy_full.py'
REPORT = os.path.join(benchlib.ROOT, 'docs', 'TIME_TO_ACCURACY.md')
FIGURE = os.path.join(benchlib.ROOT, 'docs', 'time_to_accuracy', 'full_scale.png')
FRONTIER = os.path.join(benchlib.ROOT, 'docs', 'time_to_accuracy', 'frontier.png')
TARGETS = (0.848, 0.90, 0.93, 0.94)
SHOWN = ('0.848', '0.90', '0.93', '0.94')
GOAL = 0.94
LIMITS = {'float32': 60 * 60, 'bfloat16': 15 * 60}  # seconds of wall time, issue 21's goal
RATIO_GOAL = 0.6   # issue 32's: every seed's wall time at most this times the --versus run's


def read_run(folder):
    """{'seed', 'test_acc', 'wall', 'examples_per_sec', 'load', 'epochs', 'times'} of a finished run."""
    if folder.endswith('.json'):
        return read_reference(folder)
    metrics = benchlib.read_json(os.path.join(folder, 'metrics.json'))
    sessions_path = os.path.join(folder, 'sessions.json')
    sessions = benchlib.read_json(sessions_path) if os.path.exists(sessions_path) else []
    final, epochs = metrics['final'], metrics['epochs']
    startup = (final.get('phase_seconds') or {}).get('startup') or 0   # recorded since 0.3.0
    wall = (sum(s['seconds'] or 0 for s in sessions) if sessions
            else final['wall_seconds'] + startup)
    clock = wall - sum(e.get('epoch_seconds', 0) for e in epochs)
    times = []
    for e in epochs:
        clock += e.get('epoch_seconds', 0)
        times.append(clock)
    return {'seed': metrics['config']['seed'], 'test_acc': final['test_acc'], 'wall': wall,
            'examples_per_sec': final['examples_per_sec'],
            'load': (final.get('load_average') or [None])[0],
            'threads': metrics['run'].get('omp_num_threads'),
            'cpu': metrics['run'].get('cpu') or session_cpu(sessions),
            'command': recipe_command(metrics['config']),
            'dtype': metrics['config'].get('dtype', 'float32'),
            'epochs': [e['test_acc'] for e in epochs], 'times': times,
            'n_epochs': len(epochs), 'phases': final.get('phase_seconds'),
            'last_evaluate': (epochs[-1].get('phase_seconds') or {}).get('evaluate')}


def session_cpu(sessions):
    """The CPU named by a run's first session (runs from before metrics.json had ``run.cpu``)."""
    machine = sessions[0].get('machine') if sessions else None
    return machine.split('; OMP')[0] if machine else None


def read_reference(path):
    """read_run's record of a ``ref_airbench94.py --out`` JSON. Its wall time is
    ``script_wall`` (the whole script) when recorded, else ``wall`` (from after
    torch's import: a few seconds short)."""
    ref = benchlib.read_json(path)
    wall = ref.get('script_wall', ref['wall'])
    before = wall - ref['wall']    # seconds before the epochs' clock started
    return {'seed': ref['seed'], 'test_acc': ref['tta_acc'], 'wall': wall,
            'examples_per_sec': None, 'load': (ref.get('load_average') or [None])[0],
            'threads': None, 'dtype': 'float32', 'cpu': ref.get('cpu'),
            'command': '/path/to/torch-venv/bin/python scripts/ref_airbench94.py DIR --seed S',
            'epochs': ref['per_epoch'] + [ref['tta_acc']],
            'times': [before + t for t in ref['per_epoch_wall']] + [wall],
            'n_epochs': ref['epochs'], 'phases': None}


def recipe_command(config):
    """The command a run trained with, its seed as S and its paths left out."""
    words = ['python -m train.cifar']
    if config.get('recipe', 'book') != 'book':
        words.append(f"--recipe {config['recipe']}")
    elif config.get('aug'):
        words.append(f"--aug {config['aug']}")
    if config.get('without'):
        words.append('--without ' + ' '.join(config['without']))
    if config.get('dtype', 'float32') != 'float32':
        words.append(f"--dtype {config['dtype']}")
    from gluon_aug.run.recipes import RECIPES
    recipe = RECIPES.get(config.get('recipe', 'book'))
    for flag in ('epochs', 'lr'):   # where the run departed from its recipe's
        if recipe and config.get(flag) is not None and config[flag] != getattr(recipe, flag):
            words.append(f'--{flag} {config[flag]:g}')
    return ' '.join(words + ['--seed S'])


def untimed(folder):
    """Whether the run in `folder` was continued without a session log (its metrics.json
    times only the last process)."""
    metrics = benchlib.read_json(os.path.join(folder, 'metrics.json'))
    return ('--resume' in metrics['run'].get('command', '')
            and not os.path.exists(os.path.join(folder, 'sessions.json')))


def time_to(run, accuracy):
    return next((t for a, t in zip(run['epochs'], run['times'])
                 if a is not None and a >= accuracy), None)   # None: an epoch not evaluated


def mean_spread(values):
    if len(values) == 1:
        return f'{values[0]:.3f}'
    return f'{statistics.mean(values):.3f} ± {(max(values) - min(values)) / 2:.3f}'


def wall_ratios(runs, versus):
    """Each run's wall time over the `versus` run of the same seed ("0.81x, 0.95x"), or,
    where the seeds do not pair up, the mean wall time over the mean."""
    theirs = {r['seed']: r['wall'] for r in versus}
    if all(r['seed'] in theirs for r in runs):
        return ', '.join(f"{r['wall'] / theirs[r['seed']]:.2f}x" for r in runs)
    mean = statistics.mean
    return f"{mean(r['wall'] for r in runs) / mean(theirs.values()):.2f}x (means)"


def row(label, runs, versus=None):
    def each(fmt, values):
        return ', '.join(fmt(v) for v in values)
    reached = [each(lambda t: 'not reached' if t is None else f'{t / 60:.0f} min',
                    [time_to(r, a) for r in runs]) for a in TARGETS]
    ratio = [] if versus is None else [wall_ratios(runs, versus)]
    return (f"| {label} | {each(str, [r['seed'] for r in runs])} | {runs[0]['n_epochs']} | "
            f"{mean_spread([r['test_acc'] for r in runs])} | "
            f"{each(lambda w: f'{w / 60:.0f} min', [r['wall'] for r in runs])} | "
            f"{each(lambda v: '—' if v is None else f'{v:.0f}', [r['examples_per_sec'] for r in runs])} | "
            + ' | '.join(reached + ratio) + ' | '
            + each(lambda v: '?' if v is None else f'{v:.2f}', [r['load'] for r in runs]) + ' |')


PHASES = (('startup', 'start-up'), ('load', 'loading batches'), ('step', 'training steps'),
          ('callbacks', 'callbacks'), ('evaluate', 'evaluation'),
          ('epoch_end', 'epoch ends (checkpoints)'))


STEP_PARTS = ('step.split', 'step.forward_backward', 'step.optimizer')   # loop.STEP_PARTS


def phase_cell(runs, key):
    """A phase's mean seconds over `runs`; the training steps with their parts (split,
    forward and backward, optimizer) and the evaluation with its last epoch's share
    (full test-time augmentation), where the runs recorded them."""
    mean = statistics.mean
    text = f"{mean(r['phases'].get(key) or 0 for r in runs):.0f}"
    if key == 'step' and all(r['phases'].get(STEP_PARTS[-1]) is not None for r in runs):
        text += ' (' + ' / '.join(f"{mean(r['phases'][k] for r in runs):.0f}"
                                  for k in STEP_PARTS) + ')'
    if key == 'evaluate' and all(r.get('last_evaluate') is not None for r in runs):
        text += f" ({mean(r['last_evaluate'] for r in runs):.0f})"
    return text


def phase_table(rows):
    """Where each row's wall time went (the runs' phase_seconds, mean over seeds), for the
    rows whose runs recorded it; [] if none did."""
    rows = [(label, runs) for label, runs in rows if all(r['phases'] for r in runs)]
    if not rows:
        return []
    lines = ['Where the wall time went (seconds, mean over the seeds; `other`: the wall time '
             'the phases do not cover, e.g. building the net and writing the outputs). '
             'In brackets, where recorded: the training steps\' parts (the split with any '
             'augmentation in the step / forward and backward passes / the optimizer\'s '
             'update, gradient exchange included), and the last epoch\'s evaluation (with '
             'the full test-time augmentation):', '',
             '| row | ' + ' | '.join(name for _, name in PHASES) + ' | other | wall |',
             '|---' * (len(PHASES) + 3) + '|']
    for label, runs in rows:
        means = [statistics.mean(r['phases'].get(key) or 0 for r in runs) for key, _ in PHASES]
        wall = statistics.mean(r['wall'] for r in runs)
        lines.append(f'| {label} | ' + ' | '.join(phase_cell(runs, key) for key, _ in PHASES)
                     + f' | {wall - sum(means):.0f} | {wall:.0f} |')
    return lines + ['']


def time_limit(run):
    """Issue 21's limit for `run`: the bfloat16 one on a CPU with AMX, else float32's."""
    amx = 'AMX' in (run['cpu'] or '') and 'no AMX' not in run['cpu']
    return LIMITS['bfloat16' if run['dtype'] == 'bfloat16' and amx else 'float32']


def verdict(rows):
    """Issue 21's goal judged on each row: a mean of GOAL over 2 or more seeds, every seed
    within its time limit."""
    words = [f'The goal (issue 21): a mean test accuracy of at least {GOAL} over 2 or more '
             f'seeds, every seed within {LIMITS["float32"] // 60} minutes of whole-process wall '
             f'time in float32 ({LIMITS["bfloat16"] // 60} with bfloat16 on AMX).']
    for label, runs in rows:
        mean = statistics.mean(r['test_acc'] for r in runs)
        if mean < GOAL:
            continue
        missing = ([f'{len(runs)} seed only'] if len(runs) < 2 else []) + [
            f"seed {r['seed']} took {r['wall'] / 60:.0f} minutes in {r['dtype']}"
            for r in runs if r['wall'] > time_limit(r)]
        words.append(f'{label}: mean {mean:.3f}, ' + (
            'meets it.' if not missing else 'not yet: ' + ' and '.join(missing) + '.'))
    if len(words) == 1:
        best = max(rows, key=lambda lr: statistics.mean(r['test_acc'] for r in lr[1]))
        words.append(f'No row reaches a mean of {GOAL}; the closest is {best[0]} at '
                     f"{statistics.mean(r['test_acc'] for r in best[1]):.3f}.")
    return ' '.join(words)


def ratio_verdict(rows, versus):
    """Issue 32's goal judged on each row but `versus`: a mean of GOAL over 2 or more seeds,
    every seed's wall time at most RATIO_GOAL times that of `versus`'s run of the same seed."""
    theirs = {r['seed']: r['wall'] for r in dict(rows)[versus]}
    words = [f'The goal (issue 32): a mean test accuracy of at least {GOAL} over 2 or more '
             f'seeds, every seed in at most {RATIO_GOAL}x the wall time of {versus}\'s run of '
             'the same seed.']
    for label, runs in rows:
        if label == versus:
            continue
        mean = statistics.mean(r['test_acc'] for r in runs)
        missing = ([f'{len(runs)} seed only'] if len(runs) < 2 else []) + (
            [f'mean below {GOAL}'] if mean < GOAL else []) + [
            f"seed {r['seed']} has no {versus} run" if r['seed'] not in theirs else
            f"seed {r['seed']} took {r['wall'] / theirs[r['seed']]:.2f}x"
            for r in runs if r['seed'] not in theirs
            or r['wall'] > RATIO_GOAL * theirs[r['seed']]]
        words.append(f'{label}: ' + ('meets it' if not missing else 'not: ' + ', '.join(missing))
                     + f' (mean {mean:.4f}).')
    return ' '.join(words)


def minutes_axis(ax):
    """A log-scale x axis of minutes, its ticks written as plain numbers."""
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter
    ax.set_xscale('log')
    lo, hi = ax.get_xlim()
    ax.xaxis.set_major_locator(FixedLocator([t for t in (1, 2, 5, 10, 15, 20, 30, 45, 60, 120,
                                                         240, 480) if lo <= t <= hi]))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot(rows, path):
    from matplotlib import pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for colour, (label, runs) in zip(('C0', 'C1', 'C2', 'C3'), rows):
        for k, r in enumerate(runs):
            ax.plot([t / 60 for t in r['times']], r['epochs'], 'o-', color=colour, ms=3,
                    label=label if k == 0 else None)
    for accuracy in (0.848, 0.94):
        ax.axhline(accuracy, color='gray', ls='--', lw=0.8)
        ax.text(0.01, accuracy + 0.003, f'{accuracy}', color='gray', fontsize=8,
                transform=ax.get_yaxis_transform())
    minutes_axis(ax)
    ax.set_xlabel('wall time (minutes, log scale)')
    ax.set_ylabel('test accuracy')
    ax.grid(True, which='both', lw=0.3)
    ax.legend(loc='lower right', fontsize=7)
    ax.set_title('all 50,000 training images, 2,000 test images; one line per run', fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def frontier(rows, path):
    """One point per row: mean final test accuracy against mean wall time, the seeds'
    range as its bar; the rows that no other row beats in both joined by a line."""
    from matplotlib import pyplot as plt
    points = [(statistics.mean(r['wall'] for r in runs) / 60,
               statistics.mean(r['test_acc'] for r in runs),
               (max(r['test_acc'] for r in runs) - min(r['test_acc'] for r in runs)) / 2, label)
              for label, runs in rows]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for k, (wall, acc, spread, label) in enumerate(points):
        ax.errorbar([wall], [acc], yerr=[spread], fmt='o', color=f'C{k % 10}', ms=5,
                    capsize=3, label=label)
    best = sorted((p for p in points if not any(
        q[0] <= p[0] and q[1] >= p[1] and q != p for q in points)), key=lambda p: p[0])
    ax.plot([p[0] for p in best], [p[1] for p in best], '-', color='gray', lw=0.8)
    ax.axhline(GOAL, color='gray', ls='--', lw=0.8)
    minutes_axis(ax)
    ax.set_xlabel('wall time (minutes, log scale; mean over seeds)')
    ax.set_ylabel('final test accuracy (mean; bar: range)')
    ax.grid(True, which='both', lw=0.3)
    ax.legend(loc='lower right', fontsize=7)
    ax.set_title('every configuration: accuracy against wall time', fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(rows, argv, write=True, versus=None):
    shown = ' '.join(shlex.quote(benchlib.shown_path(a)) for a in argv)
    threads = sorted({str(r['threads']) for _, runs in rows for r in runs
                      if r['threads'] is not None})
    against = dict(rows).get(versus)
    lines = ['## Full scale: all 50,000 training images', '',
             f'Rendered by `python {PROG} {shown}` from finished runs; do not edit by hand. '
             f"Each run trained on one CPU context with OMP_NUM_THREADS={', '.join(threads)}; "
             'examples/sec is the run\'s own figure (of its last session, for a run continued '
             'across sessions), and the load average the one at its end (about 2 on 2 cores: '
             'the run alone; more: other work beside it, so not a benchmark). Time to an accuracy: wall time, start-up included, until the first '
             'epoch evaluated at or above it. Wall time: the whole process (a run of '
             'ours before 0.3.0, and airbench94\'s JSON without `script_wall`, from after '
             'the framework\'s import: seconds short). airbench94\'s script records no '
             'examples/sec (—). Commands, per row (paths left out):', '']
    lines += [f'- {label}: ' + ', '.join(f'`{c}`' for c in dict.fromkeys(r['command'] for r in runs))
              + '; on ' + ', '.join(dict.fromkeys(r['cpu'] or 'a CPU it did not record'
                                                  for r in runs))
              for label, runs in rows]
    lines += ['',
             '| row | seeds | epochs | test acc (mean ± half range) | wall | examples/sec | '
             + ' | '.join(f'to {a}' for a in SHOWN)
             + (f' | wall / {versus}\'s' if versus else '') + ' | load at the end |',
             '|---' * (7 + len(TARGETS) + bool(versus)) + '|']
    lines += [row(label, runs, against) for label, runs in rows]
    lines += ['', *phase_table(rows),
              '![test accuracy against wall time](time_to_accuracy/full_scale.png)', '',
              '![every configuration: final accuracy against wall time]'
              '(time_to_accuracy/frontier.png)', '',
              verdict(rows), '', *([ratio_verdict(rows, versus), ''] if versus else []),
              f"Rendered on {benchlib.machine(load=False).split('; OMP_NUM_THREADS')[0]}; "
              "each row names the CPU its runs recorded."]
    text = '\n'.join(lines)
    if write:
        plot(rows, FIGURE)
        frontier(rows, FRONTIER)
        benchlib.write_section('full-scale', text, path=REPORT, head='# Time to accuracy\n')
    return text


def get_args_parser():
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--row', nargs='+', action='append', required=True,
                   metavar=('LABEL', 'RUN'), help='a row: its label, then its run folders')
    p.add_argument('--versus', metavar='LABEL',
                   help="a row's label: each run's wall time over that row's run of the same seed")
    p.add_argument('--no-write', action='store_true', help='print the section only')
    return p


def main(argv=None):
    from train import cli
    p = get_args_parser()
    args = p.parse_args(argv)
    cli.configure_threads()
    cli.import_library(PROG)
    rows = []
    for label, *folders in args.row:
        missing = [f for f in folders if not os.path.isfile(
            f if f.endswith('.json') else os.path.join(f, 'metrics.json'))]
        if not folders or missing:
            return cli.fail(PROG, f"--row {label!r}: " + (
                f"{missing[0]!r} is not a file" if missing and missing[0].endswith('.json')
                else f"{missing[0]!r} holds no finished run (no metrics.json)" if missing else
                "give its run folders after the label"))
        unlogged = [f for f in folders if not f.endswith('.json') and untimed(f)]
        if unlogged:
            return cli.fail(PROG, f"--row {label!r}: {unlogged[0]!r} was continued with "
                                  "--resume and has no sessions.json, so its whole wall time "
                                  "is not known; leave it out")
        rows.append((label, [read_run(f) for f in folders]))
    if args.versus is not None and args.versus not in dict(rows):
        return cli.fail(PROG, f"--versus {args.versus!r} is not a row's label; give one of: "
                              + ', '.join(repr(label) for label, _ in rows))
    print(report(rows, argv if argv is not None else sys.argv[1:], write=not args.no_write,
                 versus=args.versus))
    return 0


if __name__ == '__main__':
    sys.exit(main())
