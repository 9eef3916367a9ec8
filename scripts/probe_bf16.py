"""Does bfloat16 pay on this CPU? One convolution, timed in float32 and bfloat16.

    python scripts/probe_bf16.py

One 3x3 convolution of ResNet-18's shape (batch 64, 64 -> 64 channels,
32x32), forward and both backward passes, median of 7, in float32, in
bfloat16 with oneDNN's default kernels, and (on CPUs with AMX) in bfloat16
with AMX switched on (``train/amx.py``). Each setting runs in a process of
its own with ``MKLDNN_VERBOSE=1``, so the table names the oneDNN kernel that
ran each pass (``jit:avx512_core_bf16``, ``brgconv:avx512_core_amx_bf16``,
...) instead of guessing from the CPU's flags. bfloat16 here is the legacy
``amp_cast`` of data and weights, the route MXNet's AMP takes. Writes its
section of docs/BENCHMARKS.md.
"""
import argparse
import json
import os
import subprocess
import sys

import benchlib
from train import amx, cli

PROG = 'scripts/probe_bf16.py'
REPEATS = 7
SETTINGS = {'float32': 'float32', 'bfloat16': 'bfloat16 (default kernels)',
            'bfloat16-amx': 'bfloat16 with AMX'}
GFLOP = 3 * 2 * 64 * 64 * 64 * 9 * 32 * 32 / 1e9   # forward + 2 backward passes


def measure(setting):
    """(median ms of forward + backward, largest difference to float32 relative to its
    largest value); in this process, which must not have run MXNet yet."""
    if setting == 'bfloat16-amx' and not amx.enable_amx():
        raise SystemExit('AMX was not granted')
    import mxnet as mx
    from mxnet.contrib.amp.amp import bfloat16
    mx.random.seed(0)
    x = mx.nd.random.uniform(shape=(64, 64, 32, 32))
    w = mx.nd.random.uniform(shape=(64, 64, 3, 3))

    def step(data, weight):
        data.attach_grad()
        weight.attach_grad()

        def run():
            with mx.autograd.record():
                out = mx.nd.Convolution(data, weight, kernel=(3, 3), pad=(1, 1),
                                        num_filter=64, no_bias=True)
            out.backward()
            weight.grad.wait_to_read()
            data.grad.wait_to_read()
            return out
        return run
    ref = step(x, w)
    if setting == 'float32':
        return 1e3 * benchlib.median_time(ref, REPEATS, warmup=1), 0.0
    run = step(mx.nd.amp_cast(x, dtype=bfloat16), mx.nd.amp_cast(w, dtype=bfloat16))
    ms = 1e3 * benchlib.median_time(run, REPEATS, warmup=1)
    expected = ref()
    got = mx.nd.amp_cast(run(), dtype='float32')
    return ms, float((got - expected).abs().max().asscalar() / expected.abs().max().asscalar())


def kernels(verbose_lines):
    """{pass: oneDNN implementation} from MKLDNN_VERBOSE's exec lines of convolutions."""
    found = {}
    for line in verbose_lines:
        parts = line.split(',')
        if len(parts) > 6 and parts[1] == 'exec' and parts[3] == 'convolution':
            kind = parts[5]   # forward_training, backward_data, backward_weights
            found[kind] = parts[4]
    return found


def run_child(setting):
    """(result or error text, {pass: kernel}) of `setting` measured in a child process."""
    env = dict(os.environ, MKLDNN_VERBOSE='1', DNNL_VERBOSE='1')
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), '--child', setting],
                          capture_output=True, text=True, env=env)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1]), kernels(lines)
    errors = [line for line in proc.stderr.splitlines() if 'Error' in line or 'error' in line]
    return (errors[-1].strip() if errors else f'exit {proc.returncode}'), kernels(lines)


def get_args_parser():
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--no-write', action='store_true', help='print the table only')
    p.add_argument('--child', choices=tuple(SETTINGS), help=argparse.SUPPRESS)
    return p


def main(argv=None):
    cli.configure_threads()   # before MXNet loads (in the children too: inherited)
    p = get_args_parser()
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child)))
        return 0
    machine = benchlib.machine()   # before the runs: it records the load average
    support = amx.bf16_support()
    settings = [s for s in SETTINGS if s != 'bfloat16-amx' or support == 'amx']
    results = {s: run_child(s) for s in settings}
    if not isinstance(results['float32'][0], list):
        return cli.fail(PROG, f"float32 failed: {results['float32'][0]}", status=1)
    fp32 = results['float32'][0][0]
    rows = []
    for s in settings:
        value, used = results[s]
        where = ', '.join(f'{k.replace("_training", "")}: `{v}`' for k, v in sorted(used.items()))
        if isinstance(value, list):
            ms, err = value
            rows.append(f"| {SETTINGS[s]} | {ms:.1f} ms | {GFLOP / ms * 1e3:.0f} | "
                        f"{fp32 / ms:.2f}x | {err:.1e} | {where} |")
        else:
            rows.append(f"| {SETTINGS[s]} | fails: `{value}` | | | | {where} |")
    note = {'amx': 'This CPU has AMX: the last row is the fast path.',
            'avx512_bf16': 'This CPU has AVX512_BF16 but no AMX: oneDNN 2.4 runs bfloat16 '
                           'with its avx512_core_bf16 kernels, and AMX cannot be switched on.',
            None: 'This CPU has neither AVX512_BF16 nor AMX.'}[support]
    md = '\n'.join([
        '## bfloat16 on this CPU', '',
        f"Command: `python {PROG}`. Machine: {machine}.", '',
        "One 3x3 convolution of ResNet-18's shape (batch 64, 64 -> 64 channels, 32x32), "
        f"forward and both backward passes ({GFLOP:.2f} GFLOP), median of {REPEATS}, each "
        "setting in a process of its own; the kernels are oneDNN's own report "
        "(MKLDNN_VERBOSE).", '',
        '| setting | time | GFLOP/s | speed vs float32 | max relative difference | '
        'oneDNN kernels |', '|---|---|---|---|---|---|', *rows, '', note])
    return benchlib.report('probe_bf16', md, write=not args.no_write)


if __name__ == '__main__':
    sys.exit(main())
