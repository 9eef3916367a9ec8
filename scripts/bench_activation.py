"""Does fusing BatchNorm with its activation make the fast recipes' step faster?

    python scripts/bench_activation.py                       # batch 1000, 3 rounds
    python scripts/bench_activation.py --batch 500 --rounds 1 --no-write

The fast recipes' network (fastnet-wide: BatchNorm, then GELU, as airbench94), the
same with ReLU as an operator of its own, and with MXNet 1.9.1's only fused
BatchNorm-and-activation training operator (``contrib.BatchNormWithReLU``, so ReLU;
``fused_net``: Gluon's ``nn.BatchNormReLU`` leaves its ReLU out in numpy mode, so
it is not used): the median training step of each (``bench_dtype``'s
step: the book's ``train_batch_ch13``, hybridized), in float32 and, with AVX-512,
bfloat16. Each measurement runs in a process of its own, the variants alternating
round by round so that a drift of the machine falls on all of them; the table gives
each variant's median over the rounds and its ratio to GELU in the same type.
``scripts/profile_step.py`` gives the bound: the share of the step that BatchNorm and
the activations take. Writes its section of docs/BENCHMARKS.md.
"""
import argparse
import json
import os
import statistics
import sys

import benchlib
from bench_dtype import machine_dtypes
from train import amx, cli

PROG = 'scripts/bench_activation.py'
VARIANTS = {'gelu': 'BatchNorm, then GELU (the recipes\')',
            'relu': 'BatchNorm, then ReLU',
            'bn-relu': 'BatchNormWithReLU (one fused operator)'}
LIMIT = 900   # seconds per child before its row is reported as too slow


def fused_net(**kwargs):
    """fastnet-wide (or FastNet with `kwargs`) with each block's BatchNorm and ReLU as one
    operator (the ReLU after the whitening stays one of its own: no BatchNorm precedes it)."""
    from gluon_aug._mxnet import nn
    from gluon_aug.models.fastnet import ConvBlock, FastNet

    class BatchNormReLU(nn.BatchNorm):
        def hybrid_forward(self, F, x, gamma, beta, running_mean, running_var):
            args = [v.as_nd_ndarray() for v in (x, gamma, beta, running_mean, running_var)]
            out = F.contrib.BatchNormWithReLU(*args, name='fwd', **self._kwargs)
            return out.as_np_ndarray()

    def block(c_in, c_out, act):
        return ConvBlock(c_in, c_out, None, norm=BatchNormReLU)
    return FastNet(act='relu', block=block, **{'widths': (64, 256, 256), **kwargs})


def _fastnet_wide(**kwargs):
    from gluon_aug.models.fastnet import fastnet_wide
    return fastnet_wide(**kwargs)


NETS = {'gelu': _fastnet_wide, 'relu': lambda: _fastnet_wide(act='relu'), 'bn-relu': fused_net}


def child(variant, dtype, batch, steps):
    """{'seconds': the median step} of fastnet-wide with `variant` in `dtype`."""
    if dtype == 'bfloat16':
        amx.enable_amx()   # before MXNet loads; False where the CPU has no AMX
    from bench_dtype import make_step
    step, _, _ = make_step(f'fastnet-wide:{batch}', dtype, build=NETS[variant])
    return {'seconds': benchlib.median_time(step, steps, warmup=2)}


def get_args_parser():
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--batch', type=benchlib.positive_int, default=1000,
                   help='training batch (default: %(default)s)')
    p.add_argument('--rounds', type=benchlib.positive_int, default=3,
                   help='processes per variant and type, alternating (default: %(default)s)')
    p.add_argument('--steps', type=benchlib.positive_int, default=5,
                   help='timed steps per process (default: %(default)s)')
    p.add_argument('--no-write', action='store_true', help='print the table only')
    p.add_argument('--child', nargs=2, metavar=('VARIANT', 'TYPE'), help=argparse.SUPPRESS)
    return p


def main(argv=None):
    cli.configure_threads()   # before MXNet loads (inherited by the children)
    args = get_args_parser().parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, args.batch, args.steps)))
        return 0
    machine = benchlib.machine()   # before the runs: it records the load average
    dtypes = machine_dtypes()
    times = {(v, d): [] for v in VARIANTS for d in dtypes}
    failed = {}
    for _ in range(args.rounds):
        for dtype in dtypes:
            for variant in VARIANTS:
                result, why = benchlib.child_result(
                    [sys.executable, os.path.abspath(__file__), '--child', variant, dtype,
                     '--batch', str(args.batch), '--steps', str(args.steps)], LIMIT)
                if result is None:
                    failed[(variant, dtype)] = why
                else:
                    times[(variant, dtype)].append(result['seconds'])
    rows = []
    for dtype in dtypes:
        base = times[('gelu', dtype)]
        for variant, what in VARIANTS.items():
            got = times[(variant, dtype)]
            if not got:
                rows.append(f'| {what} | {dtype} | failed: {failed[(variant, dtype)]} | |')
                continue
            median = statistics.median(got)
            ratio = f'{median / statistics.median(base):.2f}x' if base else ''
            rows.append(f'| {what} | {dtype} | {median * 1e3:.0f} ms '
                        f'({", ".join(f"{t * 1e3:.0f}" for t in got)}) | {ratio} |')
    md = '\n'.join([
        '## BatchNorm and its activation: separate or fused', '',
        f"Command: `{' '.join(['python', PROG, benchlib.shown_args(argv)]).strip()}`. "
        f"Machine: {machine}.", '',
        f'fastnet-wide, batch {args.batch}: the median training step per variant and type '
        f'over {args.rounds} processes (each the median of {args.steps} steps; every '
        "process's median in brackets), and its ratio to the recipes' GELU in the same "
        'type (below 1: faster).', '',
        '| network | type | step | of GELU |', '|---|---|---|---|', *rows])
    return benchlib.report('bench_activation', md, write=not args.no_write)


if __name__ == '__main__':
    sys.exit(main())
