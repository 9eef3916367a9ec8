"""What a fast recipe spends beside the forward and backward passes, and what cutting it could save.

    python scripts/bench_overheads.py --data ../data/cifar10-lossless     # ~17 min on 2 cores

Two measurements, each row in its own process (a crash or a hang loses that row, and
says why):

1. **The step's parts.** A short run of each recipe (``python -m train.cifar
   --recipe R --limit-train N --epochs 2``, the second epoch counted: the first
   builds the graphs): milliseconds per step of the split, the forward and backward
   passes and the optimizer (``run/step_clock.py``), and one evaluation at the
   mirror level the recipe uses before its last epoch. fast94 runs once per
   ``MXNET_OPTIMIZER_AGGREGATION_SIZE`` in AGGREGATION: MXNet reads it for SGD,
   Adam and LAMB only, so for NAG and Muon the rows should agree (a check that
   the variable is not a lever here, measured rather than assumed).
2. **The evaluation's batch.** The test set (2,000 images) through fastnet-wide with
   mirror test-time augmentation, hybridized as training runs it, at each size in
   EVAL_BATCHES: seconds per pass over the test set, in float32 and (with AVX-512)
   bfloat16. A test batch that differs from the training batch makes a
   ``static_shape`` graph allocate again on every change; the last column is that
   cost, per evaluation (train batch, then the test batches, then train again).

Writes its section of docs/BENCHMARKS.md.
"""
import argparse
import json
import os
import sys
import tempfile

import benchlib
from train import cli

PROG = 'scripts/bench_overheads.py'
AGGREGATION = (1, 4, 60)            # 4 is MXNet's default
EVAL_BATCHES = (500, 1000, 2000)
TEST_IMAGES = 2000
LIMIT = 900                         # seconds per row before it is reported as too slow
# (recipe, dtype, training examples per epoch): about 20 steps each
RUNS = (('fast94', 'float32', 20480), ('fast94-muon', 'bfloat16', 40000))


def run_child(data, recipe, dtype, examples, out):
    """{'steps', 'step_ms', 'ms': {part: ms per step}, 'mirror_s', 'full_s'} of a short run:
    the step's parts from its second epoch, its two evaluations (mirror, then full TTA)."""
    from train.cifar import main as train_main
    train_main(['--recipe', recipe, '--dtype', dtype, '--data', data, '--epochs', '2',
                '--limit-train', str(examples), '--out', out, '--no-progress', '--seed', '0'])
    metrics = benchlib.read_json(os.path.join(out, 'metrics.json'))
    first, second = metrics['epochs']
    steps = second['examples_stepped'] // metrics['config']['batch_size']
    phases = second['phase_seconds']
    return {'steps': steps, 'step_ms': 1e3 * phases['step'] / steps,
            'ms': {k.partition('.')[2]: 1e3 * v / steps for k, v in phases.items()
                   if k.startswith('step.')},
            'mirror_s': first['phase_seconds']['evaluate'], 'full_s': phases['evaluate']}


def eval_child(dtype):
    """{batch: seconds per pass over TEST_IMAGES, ..., 'switch': seconds} (module docstring)."""
    import time
    import gluon_aug as ga
    from gluon_aug._mxnet import init, np
    from gluon_aug.models.precision import compute_in
    from gluon_aug.run.ingredients import TTA
    ga.seed_everything(0)
    net = ga.get_model('fastnet-wide')
    net.initialize(init.Xavier())
    net(np.zeros((1, 3, 32, 32)))
    compute_in(net, dtype)
    net.hybridize(static_alloc=True, static_shape=True)
    tta = TTA(net, 1)
    x = np.random.uniform(size=(TEST_IMAGES, 3, 32, 32))

    def test_pass(batch):
        for i in range(0, TEST_IMAGES, batch):
            tta(x[i:i + batch]).wait_to_read()
    result = {}
    for batch in EVAL_BATCHES:
        result[batch] = benchlib.median_time(lambda: test_pass(batch), 3, warmup=1)
    # the cost of alternating shapes: a 1024 batch (as fast94 trains), then the test set at
    # 1024 (1024 + 976), against the same passes with the shapes kept
    train_like = x[:1024]

    def alternating():
        net(train_like).wait_to_read()
        test_pass(1024)
    steady = result.get(1000) or benchlib.median_time(lambda: test_pass(1000), 3)
    start = time.perf_counter()
    for _ in range(3):
        alternating()
    mixed = (time.perf_counter() - start) / 3
    result['switch'] = mixed - steady - benchlib.median_time(
        lambda: net(train_like).wait_to_read(), 3)
    return result


def step_table(rows):
    lines = ['| recipe | type | MXNET_OPTIMIZER_AGGREGATION_SIZE | step | split | forward and '
             'backward | optimizer | optimizer, of the step | evaluation: mirror, full TTA |',
             '|---|---|---|---|---|---|---|---|---|']
    for (recipe, dtype, agg), r in rows:
        ms = r['ms']
        lines.append(f"| {recipe} | {dtype} | {agg or 'unset'} | {r['step_ms']:.0f} ms | "
                     f"{ms.get('split', 0):.1f} ms | {ms.get('forward_backward', 0):.0f} ms | "
                     f"{ms.get('optimizer', 0):.1f} ms | "
                     f"{100 * ms.get('optimizer', 0) / r['step_ms']:.1f} % | "
                     f"{r['mirror_s']:.2f} s, {r['full_s']:.2f} s |")
    return '\n'.join(lines)


def eval_table(results):
    lines = ['| type | ' + ' | '.join(f'batch {b}' for b in EVAL_BATCHES)
             + ' | a change of shape (train 1024, test 1024 + 976) |',
             '|---' * (len(EVAL_BATCHES) + 2) + '|']
    for dtype, r in results.items():
        lines.append(f'| {dtype} | ' + ' | '.join(f'{r[str(b)]:.2f} s' for b in EVAL_BATCHES)
                     + f" | {r['switch']:+.2f} s |")
    return '\n'.join(lines)


def get_args_parser():
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--data', default=benchlib.FULL, metavar='DIR',
                   help=f'all 50,000 training images (default: %(default)s, made by '
                        f'`{benchlib.MAKE_FULL}`)')
    p.add_argument('--limit', type=benchlib.positive_int, default=LIMIT,
                   help='seconds per row before it is reported as too slow (default: %(default)s)')
    p.add_argument('--no-write', action='store_true', help='print the tables only')
    p.add_argument('--child', nargs='+', help=argparse.SUPPRESS)
    return p


def main(argv=None):
    cli.configure_threads()   # before MXNet loads (inherited by the children)
    p = get_args_parser()
    args = p.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        out = eval_child(*rest) if kind == 'eval' else run_child(args.data, *rest[:2],
                                                                  int(rest[2]), rest[3])
        print(json.dumps(out))
        return 0
    data = p.check('--data', args.data, benchlib.full_cifar_folder)
    from bench_dtype import machine_dtypes
    machine = benchlib.machine()
    dtypes = machine_dtypes()
    rows, failed = [], []
    me = [sys.executable, os.path.abspath(__file__), '--data', data, '--child']
    with tempfile.TemporaryDirectory() as tmp:
        for recipe, dtype, examples in RUNS:
            if dtype not in dtypes:
                dtype = 'float32'
            for agg in (AGGREGATION if recipe == 'fast94' else (None,)):
                out = os.path.join(tmp, f'{recipe}-{agg}')
                result, why = benchlib.child_result(
                    me + ['run', recipe, dtype, str(examples), out], args.limit,
                    env={} if agg is None else {'MXNET_OPTIMIZER_AGGREGATION_SIZE': str(agg)})
                if result is None:
                    failed.append(f'- {recipe}, {dtype}, aggregation {agg}: {why}')
                else:
                    rows.append(((recipe, dtype, agg), result))
    evals = {}
    for dtype in dtypes:
        result, why = benchlib.child_result(me + ['eval', dtype], args.limit)
        if result is None:
            failed.append(f'- evaluation in {dtype}: {why}')
        else:
            evals[dtype] = result
    md = '\n'.join([
        "## Beside the step: the optimizer and the evaluation", '',
        f"Command: `{' '.join(['python', PROG, benchlib.shown_args(argv)]).strip()}`. "
        f"Machine: {machine}.", '',
        "The step's parts per step, from the second epoch of a short run of each recipe "
        "(`--limit-train`, `--epochs 2`; `run/step_clock.py`), and the runs' two evaluations "
        "of the 2,000 test images (the first epoch's with mirror TTA, the last's with full "
        "TTA: 2 and 6 passes). MXNet reads MXNET_OPTIMIZER_AGGREGATION_SIZE for SGD, Adam and "
        "LAMB only; fast94 (NAG) is run at three values to show it.", '', step_table(rows), '',
        'The test set (2,000 images) through fastnet-wide with mirror TTA, hybridized with '
        'static shapes as training runs it: seconds per pass, median of 3; the last column is '
        'what alternating the training and test shapes adds to one evaluation.', '',
        eval_table(evals), *([''] + failed if failed else [])])
    benchlib.report('bench_overheads', md, write=not args.no_write)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
