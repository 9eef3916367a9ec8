"""Where a training step's time goes, by kind of operator, in float32 and bfloat16.

    python scripts/profile_step.py                            # fastnet-wide, batch 2000
    python scripts/profile_step.py --models fastnet:250 resnet18 --no-write

For each model and type, in a process of its own (as ``bench_dtype.py``: AMX is
switched on before MXNet loads): the whole step of ``bench_dtype.make_step``
(the book's ``train_batch_ch13``, hybridized, SGD with momentum) timed without
the profiler, then profiled with MXNet's (bulk execution off, so every operator
is seen) over a few steps. The operators are grouped by kind (convolutions,
dense, BatchNorm, activations, pooling, casts to and from bfloat16, the
optimizer, the rest) and each kind's share of the profiled time is given, with
the convolutions' rate (their multiply-adds, forward and both backward passes,
over their time) against the same process's GEMM rate (``bench_dtype.gemm_gflops``).
So the table shows what the step spends beside the arithmetic. Writes its section
of docs/BENCHMARKS.md.
"""
import argparse
import json
import os
import re
import sys

import benchlib
from train import amx, cli

PROG = 'scripts/profile_step.py'
STEPS = 3         # profiled steps (after the timed ones)
LIMIT = 900       # seconds per child before it is reported as too slow
# kind -> operator names (MXNet 1.9.1's, forward and _backward_), first match wins
KINDS = (('convolution', r'Convolution|_conv'), ('dense', r'FullyConnected|_fc'),
         ('BatchNorm', r'BatchNorm'), ('activation', r'Activation|LeakyReLU|relu|gelu'),
         ('pooling', r'Pooling'), ('cast', r'amp_cast|amp_multicast|Cast'),
         ('optimizer', r'_update|_mom_|multi_'), ('other', r''))


def kind_of(operator):
    """The KINDS name an operator's profile name falls under."""
    return next(kind for kind, pattern in KINDS if re.search(pattern, operator))


def by_kind(operators):
    """{kind: milliseconds} of [(operator, milliseconds)], every kind present (0 if none)."""
    totals = {kind: 0.0 for kind, _ in KINDS}
    for operator, ms in operators:
        totals[kind_of(operator)] += ms
    return totals


def child(spec, dtype, steps):
    """{'step_ms', 'profiled_ms', 'kinds': {kind: ms per step}, 'conv_gflops', 'gemm',
    'top': [(operator, ms per step)]} of one model in one type."""
    if dtype == 'bfloat16':
        amx.enable_amx()   # before MXNet loads; False where the CPU has no AMX
    from bench_dtype import gemm_gflops, macs_per_image, make_step, model_and_batch
    import gluon_aug as ga
    from gluon_aug._mxnet import init, mx, nn, np
    step, gflop, batch = make_step(spec, dtype)
    step_ms = 1e3 * benchlib.median_time(step, steps, warmup=2)
    operators = [(op, ms) for op, _, ms in benchlib.profile_operators(mx, step, STEPS)]
    kinds = by_kind(operators)
    net = ga.get_model(model_and_batch(spec)[0])
    net.initialize(init.Xavier())
    conv_gflop = 6 * macs_per_image(net, nn, np, only=(nn.Conv2D,)) * batch / 1e9   # a step's
    return {'step_ms': step_ms, 'profiled_ms': sum(kinds.values()), 'kinds': kinds,
            'batch': batch, 'conv_gflops': conv_gflop / (kinds['convolution'] / 1e3)
            if kinds['convolution'] else None, 'gemm': gemm_gflops(dtype),
            'top': sorted(operators, key=lambda o: -o[1])[:5], 'gflop_per_image': gflop}


def table(results):
    """The markdown table of {(spec, dtype): child's result}."""
    kinds = [kind for kind, _ in KINDS]
    lines = ['| model, batch | type | step (no profiler) | profiled | '
             + ' | '.join(kinds) + ' | convolutions\' rate, of GEMM |',
             '|---' * (len(kinds) + 5) + '|']
    for (spec, dtype), r in results.items():
        shares = [f"{100 * r['kinds'][k] / r['profiled_ms']:.0f} %" for k in kinds]
        rate = ('—' if r['conv_gflops'] is None else
                f"{r['conv_gflops']:.0f} GFLOP/s, {100 * r['conv_gflops'] / r['gemm']:.0f} %")
        lines.append(f"| {spec.partition(':')[0]}, {r['batch']} | {dtype} | "
                     f"{r['step_ms']:.0f} ms | {r['profiled_ms']:.0f} ms | "
                     + ' | '.join(shares) + f' | {rate} |')
    return '\n'.join(lines)


def get_args_parser():
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--models', nargs='+', default=['fastnet-wide:2000'], metavar='MODEL[:BATCH]',
                   help='default: %(default)s')
    p.add_argument('--steps', type=benchlib.positive_int, default=3,
                   help='timed steps per median (default: 3)')
    p.add_argument('--limit', type=benchlib.positive_int, default=LIMIT,
                   help='seconds per model and type before it is reported as too slow '
                        '(default: %(default)s)')
    p.add_argument('--no-write', action='store_true', help='print the table only')
    p.add_argument('--child', nargs=2, metavar=('SPEC', 'DTYPE'), help=argparse.SUPPRESS)
    return p


def main(argv=None):
    cli.configure_threads()   # before MXNet loads (inherited by the children)
    p = get_args_parser()
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, args.steps)))
        return 0
    from bench_dtype import check_models, machine_dtypes
    check_models(p, args.models)
    machine = benchlib.machine()   # before the runs: it records the load average
    dtypes = machine_dtypes()
    results, failed = {}, []
    for spec in args.models:
        for dtype in dtypes:
            result, why = benchlib.child_result(
                [sys.executable, os.path.abspath(__file__), '--child', spec, dtype,
                 '--steps', str(args.steps)], args.limit,
                env={'MXNET_EXEC_BULK_EXEC_INFERENCE': '0', 'MXNET_EXEC_BULK_EXEC_TRAIN': '0'})
            if result is None:
                failed.append(f'- {spec} in {dtype}: {why}')
            else:
                results[(spec, dtype)] = result
    tops = [f"- {spec.partition(':')[0]}, {dtype}: " + ', '.join(
        f'{op} {ms:.0f} ms' for op, ms in r['top']) for (spec, dtype), r in results.items()]
    md = '\n'.join([
        "## Where a training step's time goes, by kind of operator", '',
        f"Command: `{' '.join(['python', PROG, benchlib.shown_args(argv)]).strip()}`. "
        f"Machine: {machine}.", '',
        "The step's median wall time without the profiler, then MXNet's profiler over "
        f"{STEPS} steps (bulk execution off): the operators' time per step, and each kind's "
        "share of it. The convolutions' rate: their multiply-adds (forward and both backward "
        "passes, 6 FLOP per MAC) over their profiled time, as a share of the same "
        "process's best GEMM rate in that type (``bench_dtype.gemm_gflops``).", '', table(results), '',
        'The costliest operators per step:', '', *tops, *([''] + failed if failed else [])])
    benchlib.report('profile_step', md, write=not args.no_write)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
