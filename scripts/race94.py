"""Our fastest recipe against airbench94 in PyTorch, to the end, on this machine.

    python scripts/race94.py --data ../data/cifar10-lossless --torch-python ~/torch-venv/bin/python
    python scripts/race94.py ... --recipe fast94-muon --dtype bfloat16 --seeds 0 1

For each seed, one after the other on the same folder: airbench94's recipe in
float32 PyTorch (``scripts/ref_airbench94.py``, run by `--torch-python`), then
``python -m train.cifar --recipe R`` (our recipe, in `--dtype`), each as a
whole process timed from its start to its exit. Then the machine's limit for
our run: its counted multiply-adds (forward and both backward passes of every
training image, the evaluations' forward passes; ``bench_dtype.macs_per_image``)
at this machine's best GEMM rate in that dtype, measured here
(``bench_dtype.gemm_gflops``). Prints, and writes into
docs/TIME_TO_ACCURACY.md (section ``race94``): each run's test accuracy and
wall time, **our time / airbench94's**, and our time / the limit. Keep the
machine otherwise idle: these are wall times.

Every run's output stays in --runs (default runs/race94): airbench94's JSON,
our run folder, and race.json, the record of each run (its wall time, exit
status, start, machine line and load averages). Run the same command again
after an interruption: the runs that finished are kept (a run is only ever
timed whole, so one that was stopped runs again from its start), and the
report covers them all. The record, with each run's accuracy, is copied to
docs/time_to_accuracy/race94.json.
"""
import json
import os
import statistics
import subprocess
import sys
import time

import benchlib
from train import cli

PROG = 'scripts/race94.py'
REPORT = os.path.join(benchlib.ROOT, 'docs', 'TIME_TO_ACCURACY.md')
REF = os.path.join(benchlib.ROOT, 'scripts', 'ref_airbench94.py')
RECORD = os.path.join(benchlib.ROOT, 'docs', 'time_to_accuracy', 'race94.json')


def timed(command, env=None):
    """(exit status, whole-process wall seconds, stderr's last line) of `command`."""
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=benchlib.ROOT, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})))
    last = (proc.stderr.strip().splitlines() or [''])[-1]
    return proc.returncode, time.perf_counter() - start, last


def airbench94_command(torch_python, data, seed, out):
    return [torch_python, REF, data, '--seed', str(seed), '--out', out]


def our_command(recipe, dtype, data, seed, out):
    return [sys.executable, '-m', 'train.cifar', '--recipe', recipe, '--dtype', dtype,
            '--data', data, '--seed', str(seed), '--out', out, '--no-progress', '--overwrite']


def accuracy(entry):
    """The test accuracy a finished run of `entry` recorded (airbench94's with its TTA)."""
    if entry['kind'] == 'airbench94':
        return benchlib.read_json(entry['output'])['tta_acc']
    return benchlib.read_json(os.path.join(entry['output'], 'metrics.json'))['final']['test_acc']


def finished(entry):
    """Whether `entry` records a run that ended well and left its output."""
    return entry.get('status') == 0 and os.path.exists(
        entry['output'] if entry['kind'] == 'airbench94'
        else os.path.join(entry['output'], 'metrics.json'))


def read_record(runs):
    path = os.path.join(runs, 'race.json')
    return benchlib.read_json(path) if os.path.exists(path) else []


def write_record(runs, entries):
    path = os.path.join(runs, 'race.json')
    with open(path + '.tmp', 'w') as f:
        json.dump(entries, f, indent=2)
    os.replace(path + '.tmp', path)


def run_entry(runs, entries, entry, command):
    """Run `command` timed, unless `entries` holds a finished run of the same name; record
    it in RUNS/race.json before (so a stopped run is on record) and after. Returns the
    finished entry, or raises RuntimeError with the run's last error line."""
    kept = next((e for e in entries if e['name'] == entry['name'] and finished(e)), None)
    if kept:
        print(f"{entry['name']}: kept from {kept['started']}", flush=True)
        return kept
    entries[:] = [e for e in entries if e['name'] != entry['name']] + [entry]
    entry.update(started=time.strftime('%Y-%m-%dT%H:%M:%S%z'), machine=benchlib.machine(),
                 load_start=os.getloadavg()[0], status=None)
    write_record(runs, entries)
    status, wall, last = timed(command)
    entry.update(status=status, wall=wall, load_end=os.getloadavg()[0])
    write_record(runs, entries)
    if status:
        raise RuntimeError(f"{entry['name']} failed (exit status {status}): {last}")
    return entry


def limit_seconds(metrics, train_images, test_images, gemm_gflops):
    """The machine's limit for the run `metrics` describes: its multiply-adds
    (3 per MAC of every trained image: forward, both backward passes; 1 per
    evaluated view of every test image) at the GEMM rate, in seconds."""
    import gluon_aug as ga
    from gluon_aug._mxnet import init, nn, np
    from bench_dtype import macs_per_image
    config = metrics['config']
    net = ga.get_model(config['model'])
    net.initialize(init.Xavier())
    macs = macs_per_image(net, nn, np)
    batch, epochs = config['batch_size'], len(metrics['epochs'])
    trained = epochs * (train_images // batch) * batch   # the array loader drops the last
    tta = metrics['recipe']['ingredients']['tta']
    views = (epochs - 1) * (2 if tta else 1) + (6 if tta == 2 else 2 if tta else 1)
    return 2 * macs * (3 * trained + views * test_images) / (gemm_gflops * 1e9)


def race_table(rows, recipe, dtype, limit):
    """The markdown table of `rows` ({'seed', 'ref', 'ours'}) and its summary line."""
    lines = ['| seed | airbench94 (PyTorch, float32): test acc | wall | '
             f'{recipe} ({dtype}): test acc | wall | ours / airbench94 |',
             '|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['seed']} | {r['ref']['acc']:.4f} | {r['ref']['wall'] / 60:.1f} min "
                     f"| {r['ours']['acc']:.4f} | {r['ours']['wall'] / 60:.1f} min | "
                     f"{r['ours']['wall'] / r['ref']['wall']:.2f}x |")
    mean = statistics.mean
    ref_acc, our_acc = mean(r['ref']['acc'] for r in rows), mean(r['ours']['acc'] for r in rows)
    ratio = mean(r['ours']['wall'] for r in rows) / mean(r['ref']['wall'] for r in rows)
    our_wall = mean(r['ours']['wall'] for r in rows)
    lines += ['', f"Mean test accuracy: airbench94 {ref_acc:.4f}, {recipe} {our_acc:.4f}. "
                  f"Mean wall time, ours over airbench94's: **{ratio:.2f}x**. The machine's "
                  f"limit for our run (its multiply-adds at this machine's best {dtype} GEMM "
                  f"rate): {limit:.0f} s, so ours takes **{our_wall / limit:.1f}x the limit**."]
    return '\n'.join(lines), ratio


def get_args_parser():
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--data', required=True, type=benchlib.full_cifar_folder, metavar='DIR',
                   help=f'all 50,000 training images ({benchlib.FULL}, made by '
                        f'`{benchlib.MAKE_FULL}`)')
    p.add_argument('--torch-python', required=True, type=benchlib.torch_python,
                   help=f'a Python with torch ({benchlib.TORCH_VENV})')
    p.add_argument('--recipe', type=benchlib.recipe, default='fast94-muon',
                   help='ours (default: %(default)s)')
    p.add_argument('--dtype', default='float32', choices=('float32', 'bfloat16'))
    p.add_argument('--seeds', nargs='+', type=benchlib.seed, default=[0, 1])
    p.add_argument('--runs', default=os.path.join(benchlib.ROOT, 'runs', 'race94'), metavar='DIR',
                   help='where the runs and their record stay (default: runs/race94)')
    p.add_argument('--no-write', action='store_true', help='print the report only')
    return p


def main(argv=None):
    cli.configure_threads()   # before MXNet loads (inherited by the runs)
    p = get_args_parser()
    args = p.parse_args(argv)
    cli.import_library(PROG)
    machine = benchlib.machine()   # before the runs: it records the load average
    from bench_pytorch import read_cifar_images
    train_images = len(read_cifar_images(args.data, None)[1])
    test_images = len(read_cifar_images(args.data, None, test=True)[1])
    os.makedirs(args.runs, exist_ok=True)
    entries, rows = read_record(args.runs), []
    for seed in args.seeds:
        name = f'airbench94-seed{seed}'
        out = os.path.join(args.runs, name + '.json')
        ref = run_entry(args.runs, entries, {'name': name, 'kind': 'airbench94', 'seed': seed,
                                             'output': out},
                        airbench94_command(args.torch_python, args.data, seed, out))
        name = f'{args.recipe}-{args.dtype}-seed{seed}'
        out = os.path.join(args.runs, name)
        ours = run_entry(args.runs, entries, {'name': name, 'kind': 'ours', 'seed': seed,
                                              'recipe': args.recipe, 'dtype': args.dtype,
                                              'output': out},
                         our_command(args.recipe, args.dtype, args.data, seed, out))
        ref, ours = (dict(e, acc=accuracy(e)) for e in (ref, ours))
        rows.append({'seed': seed, 'ref': ref, 'ours': ours})
        print(f"seed {seed}: airbench94 {ref['acc']:.4f} in {ref['wall']:.0f} s, "
              f"{args.recipe} {ours['acc']:.4f} in {ours['wall']:.0f} s", flush=True)
    from bench_dtype import gemm_gflops
    metrics = benchlib.read_json(os.path.join(rows[0]['ours']['output'], 'metrics.json'))
    limit = limit_seconds(metrics, train_images, test_images, gemm_gflops(args.dtype))
    table, _ = race_table(rows, args.recipe, args.dtype, limit)
    md = '\n'.join([
        '## Ours against airbench94, to the end, on one machine', '',
        f"Command: `python {PROG} {benchlib.shown_args(argv or sys.argv[1:])}`. "
        f"Machine: {machine}. Whole processes, one after the other; wall time from start to "
        "exit. Each run's machine line and load averages (at its start and end) are in "
        "[time_to_accuracy/race94.json](time_to_accuracy/race94.json).", '', table])
    print(md)
    if not args.no_write:
        benchlib.write_section('race94', md, path=REPORT)
        os.makedirs(os.path.dirname(RECORD), exist_ok=True)
        with open(RECORD, 'w') as f:
            json.dump([dict(r[k], output=benchlib.shown_path(r[k]['output']))
                       for r in rows for k in ('ref', 'ours')], f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
