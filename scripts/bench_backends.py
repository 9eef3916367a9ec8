"""Accuracy and speed of `train.cifar` with per-sample and batched augmentation.

    python scripts/bench_backends.py              # flip-crop, 6 epochs each: ~12 minutes
    python scripts/bench_backends.py --aug resized-crop --epochs 4

Trains the same preset with the same seed, model, budget and data twice,
`--aug-backend sample` (Gluon transforms per image in the DataLoader) and
`--aug-backend batch` (the batched twin inside the training step), each
`train.cifar` in its own process, and writes the final numbers of both runs
(from their metrics.json) to its section of docs/BENCHMARKS.md. The two
backends draw different random numbers, so their accuracies agree only up to
run-to-run noise; the last column gives that scale (the spread of the per-epoch
test accuracy over the final epochs of the sample run).
"""
import os
import subprocess
import sys

import benchlib

SUBSET = os.path.join(os.path.dirname(benchlib.ROOT), 'shared', 'data', 'cifar10-subset')


def get_args_parser():
    p = benchlib.ArgumentParser(prog='scripts/bench_backends.py',
                                description=__doc__.split('\n\n')[0])
    p.add_argument('--aug', type=benchlib.preset, default='flip-crop')
    p.add_argument('--model', type=benchlib.model, default='cifar_resnet20_v1')
    p.add_argument('--epochs', type=benchlib.positive_int, default=6)
    p.add_argument('-b', '--batch-size', type=benchlib.positive_int, default=128)
    p.add_argument('--data', default=SUBSET)
    p.add_argument('-j', '--num-workers', type=benchlib.count, default=2)
    p.add_argument('--seed', type=benchlib.seed, default=0)
    p.add_argument('--out', default=os.path.join(benchlib.ROOT, 'runs', 'backends'))
    p.add_argument('--no-write', action='store_true')
    p.add_argument('--report-only', action='store_true',
                   help='only rewrite the report from the runs already in --out')
    return p


def main(argv=None):
    from train import cli
    p = get_args_parser()
    args = p.parse_args(argv)
    if not args.report_only:
        p.check('--data', args.data, benchlib.cifar_folder)
    runs = {}
    for backend in ('sample', 'batch'):
        out = os.path.join(args.out, backend)
        if args.report_only:
            if not os.path.exists(os.path.join(out, 'metrics.json')):
                return cli.fail(p.prog, f'no run in {out!r}; run without --report-only')
            runs[backend] = benchlib.read_json(os.path.join(out, 'metrics.json'))
            continue
        cmd = [sys.executable, '-m', 'train.cifar', '--aug', args.aug, '--aug-backend', backend,
               '--model', args.model, '--epochs', str(args.epochs), '--batch-size',
               str(args.batch_size), '--data', args.data, '--num-workers', str(args.num_workers),
               '--devices', 'cpu', '--seed', str(args.seed), '--out', out, '--overwrite',
               '--no-progress']
        print('+', ' '.join(cmd[1:]), flush=True)
        subprocess.run(cmd, cwd=benchlib.ROOT, check=True)
        runs[backend] = benchlib.read_json(os.path.join(out, 'metrics.json'))
    spread = {b: [e['test_acc'] for e in m['epochs'][-3:]] for b, m in runs.items()}
    rows = ['| backend | train loss | train acc | test acc | examples/sec (step only) | wall time |',
            '|---|---|---|---|---|---|']
    for backend, m in runs.items():
        f = m['final']
        rows.append(f"| {backend} | {f['train_loss']:.3f} | {f['train_acc']:.3f} | "
                    f"{f['test_acc']:.3f} | {f['examples_per_sec']:.1f} | "
                    f"{f['wall_seconds'] / 60:.1f} min |")
    by_epoch = ['| backend | ' + ' | '.join(f'epoch {e["epoch"]}' for e in runs['sample']['epochs'])
                + ' |', '|---|' + '---|' * len(runs['sample']['epochs'])]
    for what in ('train_acc', 'test_acc'):
        for backend, m in runs.items():
            by_epoch.append(f"| {backend}, {what.replace('_', ' ')} | "
                            + ' | '.join(f'{e[what]:.3f}' for e in m['epochs']) + ' |')
    import platform
    md = '\n'.join([
        '## Accuracy: per-sample vs batched backend', '',
        ('Command: `python scripts/bench_backends.py '
         + benchlib.shown_args([a for a in (argv or sys.argv[1:]) if a != '--report-only'])).rstrip()
        + '`. '
        f"`train.cifar --aug {args.aug}` with model {args.model}, {args.epochs} epochs, batch "
        f"{args.batch_size}, Adam lr 0.001, seed {args.seed}, one CPU context, "
        f"{args.num_workers} loader workers, on the {os.path.basename(args.data)} data; "
        f"Python {platform.python_version()}; 1-minute load average at the end of each run: "
        + ', '.join(f"{b} {m['final'].get('load_average', [float('nan')])[0]:.2f}"
                    for b, m in runs.items()) + '.',
        '', *rows, '', 'Per epoch:', '', *by_epoch, '',
        'The backends draw different random numbers (per-image NumPy/MXNet draws in the '
        'loader vs one tensor per batch on the device), so equal accuracy means equal up '
        'to run-to-run noise. Over the last three epochs test accuracy moved between '
        + ' and '.join(f'{min(v):.3f}-{max(v):.3f} ({b})' for b, v in spread.items())
        + ' within each run. examples/sec is the book\'s '
        'figure (training step only; the batch backend\'s step includes its augmentation).'])
    return benchlib.report('bench_backends', md, write=not args.no_write)


if __name__ == '__main__':
    sys.exit(main())
