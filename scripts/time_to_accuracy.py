"""Time to accuracy on the CIFAR-10 subset: the book's recipe (MXNet and PyTorch) against
the fast recipe, in full and with each ingredient removed. Writes docs/TIME_TO_ACCURACY.md.

    python scripts/time_to_accuracy.py --torch-python ~/torch-venv/bin/python   # ~2 hours
    python scripts/time_to_accuracy.py --rows fast --fast-seeds 0                # one row

Every row trains on the same data (../shared/data/cifar10-subset: 10,000 training and
2,000 test images), on one CPU context, one run after the other, recording the load
average before each run:

- book, MXNet: ``python -m train.cifar --book`` (the chapter's code path exactly:
  d2l ResNet-18, Adam 0.001, batch 256, flips, an imperative net, 4 loader
  workers), `--book-epochs` epochs, `--book-runs` runs (the book seeds nothing);
- book, PyTorch: the book's PyTorch code for the section (scripts/bench_pytorch.py's
  child, run by `--torch-python`; torch is not a dependency), same epochs, seeds
  0, 1, ...;
- fast: ``python -m train.cifar --recipe fast``, seeds `--fast-seeds`;
- fast without X: the same with ``--without X``, one row per ingredient, seed
  `--fast-seeds[0]`.

Wall time is the whole process, start-up, training and evaluation included.
A fast run's "time to the book's accuracy" is the wall time of its first
evaluated epoch at or above the MXNet book rows' mean final test accuracy
(start-up plus the epochs' training and evaluation time).
"""
import json
import os
import statistics
import subprocess
import sys
import time

import benchlib
from benchlib import ROOT, machine, read_json, shown_path
from train import cli

PROG = 'scripts/time_to_accuracy.py'
SUBSET = os.path.join(os.path.dirname(ROOT), 'shared', 'data', 'cifar10-subset')
REPORT = os.path.join(ROOT, 'docs', 'TIME_TO_ACCURACY.md')


def timed(cmd, log):
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed with status {proc.returncode}")
    return proc.stdout, time.perf_counter() - start, load


def mxnet_run(args, name, flags, log):
    """One train.cifar run: its epochs and the wall time to each of them."""
    out = os.path.join(args.work, name)
    cmd = [sys.executable, '-m', 'train.cifar', '--data', args.data, '--devices', 'cpu',
           '--out', out, '--overwrite', '--no-progress', *flags]
    print('+', ' '.join(cmd), flush=True)
    _, wall, load = timed(cmd, log)
    metrics = read_json(os.path.join(out, 'metrics.json'))
    epochs = metrics['epochs']
    # the process's wall time before the first epoch (imports, data, initialization)
    before = wall - sum(e.get('epoch_seconds', 0) for e in epochs)
    clock, times = before, []
    for e in epochs:
        clock += e.get('epoch_seconds', 0)
        times.append(clock)
    return {'name': name, 'wall': wall, 'load': load, 'epochs': epochs, 'times': times,
            'test_acc': metrics['final']['test_acc'],
            'examples_per_sec': metrics['final']['examples_per_sec'],
            'seed': metrics['config']['seed']}


def torch_run(args, seed, log):
    cmd = [args.torch_python, os.path.join(ROOT, 'scripts', 'bench_pytorch.py'), '--child',
           '--torch-python', args.torch_python, '--data', args.data, '--batches', '0',
           '-b', '256', '-j', '4', '--epochs', str(args.book_epochs), '--test',
           '--seed', str(seed)]
    print('+', ' '.join(cmd), flush=True)
    out, wall, load = timed(cmd, log)
    lines = [json.loads(l) for l in out.splitlines() if l.startswith('{')]
    epochs, final = lines[:-1], lines[-1]
    return {'name': f'book-pytorch-{seed}', 'wall': wall, 'load': load, 'epochs': epochs,
            'times': [e['wall_seconds'] + (wall - final['wall_seconds']) for e in epochs],
            'test_acc': epochs[-1]['test_acc'], 'examples_per_sec': final['examples_per_sec'],
            'seed': seed}


def mean_spread(values):
    """'0.812 ± 0.004' (mean ± half the range; one value: the value)."""
    if len(values) == 1:
        return f'{values[0]:.3f}'
    return f'{statistics.mean(values):.3f} ± {(max(values) - min(values)) / 2:.3f}'


def time_to(run, accuracy):
    """Wall seconds until the run's first epoch at or above `accuracy`, else None."""
    for e, t in zip(run['epochs'], run['times']):
        if e['test_acc'] >= accuracy:
            return t
    return None


def row(label, runs, target=None):
    accs = [r['test_acc'] for r in runs]
    walls = [r['wall'] for r in runs]

    def reached(accuracy):   # '—' on rows that are not the fast recipe's
        if accuracy is None:
            return '—'
        return ', '.join('not reached' if t is None else f'{t:.0f}'
                         for t in (time_to(r, accuracy) for r in runs))

    seeds = ', '.join('none' if r['seed'] is None else str(r['seed']) for r in runs)
    wall = ', '.join(f'{w:.0f}' for w in walls)
    loads = ', '.join(f"{r['load']:.2f}" for r in runs)
    speed = statistics.median(r['examples_per_sec'] for r in runs)
    return (f"| {label} | {seeds} | {len(runs[0]['epochs'])} | {mean_spread(accs)} | {wall} | "
            f"{speed:.1f} | {reached(target)} | {reached(None if target is None else 0.80)} | "
            f"{loads} |")


def write_report(args, results):
    book = results.get('book-mxnet', [])
    target = statistics.mean(r['test_acc'] for r in book) if book else None
    minutes = sum(r['wall'] for runs in results.values() for r in runs) / 60
    made = (f'`python {PROG} --torch-python PYTHON` (continued with `--keep` when '
            'interrupted), rendered by ' if args.report_only else '')
    lines = ['## On the 10,000-image subset', '',
             f'Generated by {made}`python {PROG} {" ".join(args.argv)}` on '
             f"{time.strftime('%Y-%m-%d')}; {minutes:.0f} minutes of runs. Do not "
             'edit by hand. Data: the 10,000 / 2,000-image CIFAR-10 subset '
             '(`../shared/data/cifar10-subset`), one CPU context, rows run one after the other. '
             f'Machine: {machine(load=False)}.', '',
             'Wall time is the whole process (start-up, training, evaluation). '
             'examples/sec is the book\'s figure (timed training steps only). '
             '"to book acc" is the wall time at which a run first evaluated at or above the '
             'book recipe\'s (MXNet) mean final test accuracy'
             + (f' ({target:.3f})' if target is not None else '') + '.', '',
             '| row | seeds | epochs | test acc (mean ± half range) | wall (s) | examples/sec | '
             'to book acc (s) | to 0.80 (s) | load before |',
             '|---|---|---|---|---|---|---|---|---|']
    names = {'book-mxnet': 'book recipe, MXNet (`--book`)',
             'book-pytorch': "book recipe, PyTorch (the book's code)", 'fast': 'fast recipe'}
    for key, runs in results.items():
        label = names.get(key, f'fast recipe without {key[len("fast-without-"):]}')
        lines.append(row(label, runs, target if key.startswith('fast') else None))
    lines.append('')
    if book and results.get('book-pytorch'):
        m = [r['test_acc'] for r in book]
        t = [r['test_acc'] for r in results['book-pytorch']]
        low, high = min(m + t), max(m + t)
        overlap = max(min(m), min(t)) <= min(max(m), max(t))
        lines += [f"**MXNet and PyTorch, book recipe:** MXNet {mean_spread(m)}, PyTorch "
                  f"{mean_spread(t)} test accuracy after {args.book_epochs} epochs: the two "
                  + ('ranges overlap, so they agree within the seed spread'
                     if overlap else 'ranges do not overlap: they do **not** agree within the '
                     'seed spread') + f' (all runs between {low:.3f} and {high:.3f}).', '']
    ablations = {k[len('fast-without-'):]: runs for k, runs in results.items()
                 if k.startswith('fast-without-')}
    if ablations and results.get('fast'):
        full = [r['test_acc'] for r in results['fast']]
        low, high, mean = min(full), max(full), statistics.mean(full)

        def verdict(acc):
            return ('below every seed of the full recipe' if acc < low else 'above every '
                    'seed of the full recipe' if acc > high else 'within the seeds\' range')
        lines += [f'**Ingredients:** the full recipe ended at {low:.3f}-{high:.3f} over '
                  f'{len(full)} seeds. Without each ingredient (final test accuracy, change '
                  'against the full recipe\'s mean):', '']
        lines += [f"- {name}: {statistics.mean(r['test_acc'] for r in runs):.3f} "
                  f"({(statistics.mean(r['test_acc'] for r in runs) - mean) * 100:+.1f} points), "
                  f"{verdict(statistics.mean(r['test_acc'] for r in runs))}"
                  for name, runs in ablations.items()]
        lines += ['', f'One seed per ablation row: differences within or barely beyond the '
                  f'full recipe\'s {(high - low) * 100:.1f}-point seed spread do not rank the '
                  'ingredients; more seeds per row would.', '']
    if book and results.get('fast'):
        book_wall = statistics.mean(r['wall'] for r in book)
        reach = [time_to(r, target) for r in results['fast']]
        ok = all(t is not None and t <= book_wall / 5 for t in reach)
        at80 = [time_to(r, 0.80) for r in results['fast']]
        ok80 = all(t is not None and t <= 900 for t in at80)
        lines += ['### Targets', '',
                  f"- Reach the book recipe's final test accuracy ({target:.3f}) in at most a "
                  f"fifth of its wall time ({book_wall:.0f} s / 5 = {book_wall / 5:.0f} s): "
                  + ', '.join('not reached' if t is None else f'{t:.0f} s' for t in reach)
                  + f" -> **{'met' if ok else 'not met'}**.",
                  '- Reach 0.80 test accuracy within 15 minutes (900 s): '
                  + ', '.join('not reached' if t is None else f'{t:.0f} s' for t in at80)
                  + f" -> **{'met' if ok80 else 'not met'}**.", '']
    lines += ['Commands, per row: `python -m train.cifar --book --epochs E --data DIR --devices '
              'cpu`; the PyTorch child of `scripts/bench_pytorch.py`; `python -m train.cifar '
              '--recipe fast --seed S --data DIR --devices cpu [--without INGREDIENT]`. Raw '
              f"results, every epoch of every run: `{shown_path(args.report[:-len('.md')])}.json`.",
              '']
    # its own section: the file's other sections (time_to_accuracy_full.py's, race94.py's)
    # and its hand-written text stay
    benchlib.write_section('subset', '\n'.join(lines), path=args.report,
                           head='# Time to accuracy\n')
    with open(args.report[:-len('.md')] + '.json', 'w') as f:
        json.dump(results, f, indent=1)
    print('\n'.join(lines))


def get_args_parser():
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--data', default=SUBSET, metavar='DIR')
    p.add_argument('--torch-python', default=None, metavar='PYTHON',
                   help='a Python that can import torch (for the PyTorch book row)')
    p.add_argument('--book-epochs', type=benchlib.positive_int, default=3)
    p.add_argument('--book-runs', type=benchlib.positive_int, default=2)
    p.add_argument('--fast-seeds', type=benchlib.seed, nargs='+', default=[0, 1])
    p.add_argument('--rows', nargs='+', default=['book-mxnet', 'book-pytorch', 'fast',
                                                 'ablations'],
                   choices=['book-mxnet', 'book-pytorch', 'fast', 'ablations'])
    p.add_argument('--work', default=os.path.join(ROOT, 'runs', 'time_to_accuracy'),
                   metavar='DIR')
    p.add_argument('--report-only', action='store_true',
                   help="only rewrite the report from the --work folder's results.json")
    p.add_argument('--report', type=benchlib.file_to_write, default=REPORT, metavar='FILE.md',
                   help='where the report goes (default: docs/TIME_TO_ACCURACY.md; the raw '
                        'results go beside it as .json)')
    p.add_argument('--keep', action='store_true',
                   help="keep the runs already in the --work folder's results.json and run "
                        "only the missing ones (to continue an interrupted measurement)")
    return p


def main(argv=None):
    p = get_args_parser()
    args = p.parse_args(argv)
    args.argv = [shown_path(a) for a in (argv if argv is not None else sys.argv[1:])]
    cli.configure_threads()   # the runs' OpenMP threads, for the report's machine line
    saved = os.path.join(args.work, 'results.json')
    if args.report_only:
        if not os.path.exists(saved):
            return cli.fail(PROG, f"no results in {args.work!r}; run without --report-only")
        write_report(args, read_json(saved))
        return 0
    p.check('--data', args.data, benchlib.cifar_folder)
    if 'book-pytorch' in args.rows:
        if not args.torch_python:
            return cli.fail(PROG, "the PyTorch book row needs --torch-python PYTHON (a Python "
                                  "with torch), or leave it out with --rows")
        p.check('--torch-python', args.torch_python, benchlib.torch_python)
    from gluon_aug.run.recipes import INGREDIENTS
    os.makedirs(args.work, exist_ok=True)
    results = {}
    if args.keep and os.path.exists(saved):
        results = read_json(saved)
    done = {r['name'] for runs in results.values() for r in runs}
    plan = []   # (row key, run name, run): run(log) -> one result
    if 'book-mxnet' in args.rows:
        plan += [('book-mxnet', f'book-mxnet-{k}', lambda log, k=k: mxnet_run(
            args, f'book-mxnet-{k}', ['--book', '--epochs', str(args.book_epochs)], log))
            for k in range(args.book_runs)]
    if 'book-pytorch' in args.rows:
        plan += [('book-pytorch', f'book-pytorch-{s}', lambda log, s=s: torch_run(args, s, log))
                 for s in range(args.book_runs)]
    if 'fast' in args.rows:
        plan += [('fast', f'fast-{s}', lambda log, s=s: mxnet_run(
            args, f'fast-{s}', ['--recipe', 'fast', '--seed', str(s)], log))
            for s in args.fast_seeds]
    if 'ablations' in args.rows:
        plan += [(f'fast-without-{name}', f'fast-without-{name}', lambda log, name=name: mxnet_run(
            args, f'fast-without-{name}',
            ['--recipe', 'fast', '--seed', str(args.fast_seeds[0]), '--without', name], log))
            for name in INGREDIENTS]
    with open(os.path.join(args.work, 'log.txt'), 'a') as log:
        for key, name, run in plan:
            if name in done:
                continue
            results.setdefault(key, []).append(run(log))
            with open(saved, 'w') as f:   # as it goes
                json.dump(results, f, indent=1)
    write_report(args, results)
    return 0


if __name__ == '__main__':
    sys.exit(main())
