"""fast94-muon's schedule tuned: fewer epochs and other learning rates against its own.

    python scripts/tune_muon.py --data ../shared/data/cifar10-subset --seeds 0 1   # the subset
    python scripts/tune_muon.py --data ../data/cifar10-lossless --arms e7 --seeds 0 1   # full scale
    python scripts/tune_muon.py --report-only --runs runs/tune-muon

Each arm is ``python -m train.cifar --recipe fast94-muon`` with its own ``--epochs`` and
``--lr`` (the recipe's are 8 epochs at 0.24, airbench94_muon's, the row "recipe"), in
the fastest type this CPU offers (bfloat16 with AVX-512), seeds --seeds. Runs go
seed by seed, every arm at a seed before the next seed, and checkpoint, so the command
stopped and run again continues where it stopped. The report: per arm, the final test
accuracy per seed and their mean, and the mean whole-run wall time as a fraction of the
recipe's (training time scales with the epochs; the accuracy is what a shorter or
differently paced schedule gives up). Writes its section of docs/RECIPES.md, naming
the data: one section for runs on a subset, another for runs on the lossless full set.
"""
import os
import sys

import benchlib
from armruns import ArmRuns, finish_report, mean, print_report, write_report

PROG = 'scripts/tune_muon.py'
REPORT = os.path.join(benchlib.ROOT, 'docs', 'RECIPES.md')
EVERY = 50
# arm -> (epochs, peak learning rate); 'recipe' is fast94-muon as it stands
ARMS = {'recipe': (8, 0.24), 'e7': (7, 0.24), 'e6': (6, 0.24), 'lr0.18': (8, 0.18),
        'lr0.32': (8, 0.32)}


def flags(arms):
    return {arm: ['--epochs', str(ARMS[arm][0]), '--lr', str(ARMS[arm][1])] for arm in arms}


def grid(runs, arms, seeds, dtype):
    return ArmRuns(runs, flags(arms), seeds, ['--recipe', 'fast94-muon', '--dtype', dtype],
                   EVERY)


def summary(metrics):
    final = metrics['final']
    return {'test_acc': final['test_acc'], 'wall': final.get('wall_seconds'),
            'data': metrics['config'].get('data'), 'load': (final.get('load_average')
                                                            or [None])[0]}


def table(results):
    base = results.get('recipe', {})
    base_wall = mean([r['wall'] for r in base.values()]) if base else None
    lines = ['| arm | epochs | peak lr | seeds | test acc per seed | mean | wall, of the '
             "recipe's |", '|---|---|---|---|---|---|---|']
    for arm, by_seed in results.items():
        epochs, lr = ARMS[arm]
        accs = [f"{r['test_acc']:.4f}" for _, r in sorted(by_seed.items())]
        wall = mean([r['wall'] for r in by_seed.values()])
        lines.append(f"| {arm} | {epochs} | {lr} | {', '.join(map(str, sorted(by_seed)))} | "
                     f"{', '.join(accs)} | {mean([r['test_acc'] for r in by_seed.values()]):.4f}"
                     f" | {f'{wall / base_wall:.2f}x' if base_wall else '—'} |")
    return '\n'.join(lines)


def report(runs, arms, seeds, dtype, write=True):
    g = grid(runs, arms, seeds, dtype)
    results = g.collect(summary)
    if not results:
        return None
    data = sorted({benchlib.pixel_name(r['data']) for by in results.values()
                   for r in by.values()})
    loads = [r['load'] for by in results.values() for r in by.values() if r['load']]
    load = f" Load averages at the runs' ends: {min(loads):.1f}-{max(loads):.1f}." if loads else ''
    full = all(benchlib.lossless(r['data']) for by in results.values() for r in by.values())
    md = ["### fast94-muon's schedule, tuned" + (' at full scale' if full else ''), '',
          f"Written by `python {PROG} {benchlib.shown_args(sys.argv[1:])}`: "
          f"`python -m train.cifar --recipe fast94-muon --dtype {dtype}` with each arm's "
          f"`--epochs` and `--lr`, one run at a time, on {'; '.join(data)}. Wall time: "
          "each run's own (metrics.json), as a fraction of the recipe row's mean." + load, '',
          table(results), '']
    text = finish_report(md, g.missing())
    if write:
        # a section per scale, so the full-scale table does not replace the subset's
        write_report(text, results, os.path.join(runs, 'tune.json'),
                     'tune-muon-full' if full else 'tune-muon', REPORT, '')
    return text


def get_args_parser():
    p = benchlib.full_scale_parser(PROG, __doc__, '--runs', 'runs/tune-muon',
                                   'folder for the runs', 'train nothing, report what has finished',
                                   data_help='a CIFAR-10 folder (the subset, or all 50,000 '
                                             f'images: {benchlib.MAKE_FULL})')
    p.add_argument('--arms', nargs='+', choices=list(ARMS), default=list(ARMS),
                   help='default: all')
    p.add_argument('--seeds', nargs='+', type=benchlib.seed, default=[0])
    return p


def main(argv=None):
    from train import cli
    from bench_dtype import machine_dtypes
    p = get_args_parser()
    args = p.parse_args(argv)
    cli.configure_threads()
    cli.import_library(PROG)
    dtype = machine_dtypes()[-1]   # bfloat16 where the CPU has AVX-512
    arms = ['recipe'] + [a for a in args.arms if a != 'recipe']   # the yardstick first
    if not args.report_only:
        p.check('--data', args.data, benchlib.cifar_folder)
        status = grid(args.runs, arms, args.seeds, dtype).train(args.data)
        if status:
            return status
    text = report(args.runs, arms, args.seeds, dtype, write=not args.no_write)
    return print_report(PROG, text, args.runs, '(and with --data) ')


if __name__ == '__main__':
    sys.exit(main())
