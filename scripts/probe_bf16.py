"""Can MXNet 1.9.1 train in bfloat16 on this CPU? A probe, with its answer in docs/BENCHMARKS.md.

    python scripts/probe_bf16.py

MXNet's AMP fails in numpy mode (its loss scaler calls ``multi_all_finite``, a
legacy operator), so the route left for d2l's numpy-mode ResNet-18 is casting:
parameters and activations to bfloat16 with the legacy ``amp_cast``, which
needs oneDNN bf16 kernels. This probe asks the machine the first question
that route depends on: does one 3x3 convolution of ResNet-18's shape (batch
64, 64 channels, 32x32) run in bfloat16, forward and backward, and how fast
and how close to float32 is it? It reads the CPU's flags (oneDNN runs bf16
natively with AVX512_BF16 or AMX, and emulates it on other AVX-512 CPUs).
"""
import os
import sys

import benchlib
from train import cli


def cpu_flags():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        pass
    return set()


def median_ms(fn, repeats=5):
    return 1e3 * benchlib.median_time(fn, repeats, warmup=1)


def measure(dtype):
    """Median ms of one forward+backward convolution in `dtype`, and its largest
    relative difference to float32 (0 for float32)."""
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
                out = mx.nd.Convolution(data, weight, kernel=(3, 3), pad=(1, 1), num_filter=64,
                                        no_bias=True)
            out.backward()
            weight.grad.wait_to_read()
            return out
        return run
    if dtype == 'float32':
        return median_ms(step(x, w)), 0.0
    run = step(mx.nd.amp_cast(x, dtype=bfloat16), mx.nd.amp_cast(w, dtype=bfloat16))
    ms = median_ms(run)
    ref = step(x, w)()
    out = mx.nd.amp_cast(run(), dtype='float32')
    return ms, float((out - ref).abs().max() / ref.abs().max())


def main(argv=None):
    cli.configure_threads()   # before MXNet loads
    import argparse
    import json
    import subprocess
    from train import cli
    p = cli.ArgumentParser(prog='scripts/probe_bf16.py', description=__doc__.split('\n\n')[0])
    p.add_argument('--no-write', action='store_true')
    p.add_argument('--child', choices=('float32', 'bfloat16'), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child)))
        return 0
    machine = benchlib.machine()   # before the runs: it records the load average
    relevant = sorted(f for f in cpu_flags() if f.startswith(('avx512', 'amx')))
    results = {}
    for dtype in ('float32', 'bfloat16'):
        # a child each: an MXNet error in an asynchronous op resurfaces at exit
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), '--child', dtype],
                              capture_output=True, text=True)
        try:
            results[dtype] = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            errors = [line for line in proc.stderr.splitlines() if 'Error' in line]
            results[dtype] = errors[-1].strip() if errors else f'exit {proc.returncode}'
    fp32 = results['float32'][0]
    rows = [f'| float32 | {fp32:.1f} ms | |']
    if isinstance(results['bfloat16'], list):
        bf16, err = results['bfloat16']
        rows.append(f'| bfloat16 | {bf16:.1f} ms ({fp32 / bf16:.2f}x float32) | '
                    f'max relative difference to float32: {err:.1e} |')
        verdict = ('bfloat16 runs here; whether it pays for a whole ResNet-18 step is the '
                   'next measurement.')
    else:
        rows.append(f"| bfloat16 | fails | `{results['bfloat16']}` |")
        verdict = ('oneDNN has no bfloat16 convolution for this CPU, so bfloat16 training '
                   'cannot run here at all; it needs an AVX-512 CPU (natively with '
                   'AVX512_BF16 or AMX).')
    md = '\n'.join([
        '## bfloat16 on this CPU', '',
        f"Command: `python scripts/probe_bf16.py`. Machine: {machine}. CPU flags "
        f"for bf16: {', '.join(relevant) if relevant else 'no AVX-512 or AMX flags'}.", '',
        'One 3x3 convolution of ResNet-18\'s shape (batch 64, 64 -> 64 channels, 32x32), '
        'forward and backward, median of 5:', '',
        '| dtype | time | note |', '|---|---|---|', *rows, '', verdict])
    return benchlib.report('probe_bf16', md, write=not args.no_write)


if __name__ == '__main__':
    sys.exit(main())
