"""Whole training steps in float32 and bfloat16, against this machine's GEMM rate.

    python scripts/bench_dtype.py                  # ResNet-18 (batch 256) and fastnet (250)
    python scripts/bench_dtype.py --models fastnet --steps 5
    python scripts/bench_dtype.py --models fastnet-wide:2000   # a model at another batch size

For each model and type: the median time of a whole training step (the
book's ``train_batch_ch13`` on one in-memory batch: forward, backward, the
optimizer, hybridized, as ``train.cifar`` runs it; bfloat16 through
``--dtype bfloat16``'s ``compute_in``), its images/sec, and its GFLOP/s from
the model's multiply-adds counted layer by layer (3 x 2 x MACs per image:
the forward and both backward passes). In the same run, the machine's GEMM
rate: the fastest of n x n float32 matrix products (``dot``) for n = 1024, 2048
and 4096, and of the same products in bfloat16 (``FullyConnected`` on ``amp_cast``
inputs, the op the layers use), so each step's share of the machine's peak reads off one table. Each type
runs in a process of its own (so AMX can be switched on before MXNet loads).
Writes its section of docs/BENCHMARKS.md.
"""
import argparse
import json
import os
import subprocess
import sys

import benchlib
from train import amx, cli

PROG = 'scripts/bench_dtype.py'
BATCH = {'resnet18': 256, 'fastnet': 250}


def macs_per_image(net, nn, np, only=None):
    """Multiply-adds of one 32x32 image through `net`'s Conv2D and Dense layers (`only`:
    a tuple of those layer classes to count, e.g. ``(nn.Conv2D,)``)."""
    total, handles = [], []

    def hook(block, inputs, output):
        x = inputs[0]
        if isinstance(block, nn.Conv2D):
            k = 1
            for s in block._kwargs['kernel']:
                k *= s
            total.append(output.size * x.shape[1] // block._kwargs['num_group'] * k)
        else:
            total.append(output.size * block.weight.shape[1])

    def visit(block):
        if isinstance(block, only or (nn.Conv2D, nn.Dense)):
            handles.append(block.register_forward_hook(hook))
        for child in block._children.values():
            visit(child)
    visit(net)
    net(np.zeros((1, 3, 32, 32)))
    for handle in handles:
        handle.detach()
    return sum(total)


def check_models(parser, specs):
    """--models' MODEL[:BATCH] values checked: one line and exit 2 for the first bad one."""
    for spec in specs:
        name, _, batch = spec.partition(':')
        parser.check('--models', name, benchlib.model)
        if batch:
            parser.check('--models', batch, benchlib.positive_int)


def machine_dtypes():
    """The types this CPU computes: float32, and bfloat16 with AVX-512."""
    return ['float32'] + (['bfloat16'] if 'avx512f' in amx.cpu_flags() else [])


def model_and_batch(spec):
    """('fastnet-wide', 2000) of 'fastnet-wide:2000'; a bare name takes BATCH's size (256)."""
    name, _, batch = spec.partition(':')
    return name, int(batch) if batch else BATCH.get(name, 256)


def step_seconds(spec, dtype, steps):
    """(median seconds of one training step, GFLOP per training image, batch size)."""
    step, gflop, batch = make_step(spec, dtype)
    return benchlib.median_time(step, steps, warmup=2), gflop, batch


def make_step(spec, dtype, build=None):
    """(a function taking one training step of `spec` in `dtype` and waiting for it, GFLOP
    per training image, batch size); `build`: makes the net instead of `spec`'s name."""
    import gluon_aug as ga
    from gluon_aug._mxnet import gluon, init, nn, np
    from gluon_aug.models.precision import compute_in
    model, batch = model_and_batch(spec)
    ga.seed_everything(0)
    net = build() if build else ga.get_model(model)
    net.initialize(init.Xavier())
    gflop = 6 * macs_per_image(net, nn, np) / 1e9
    compute_in(net, dtype)
    net.hybridize(static_alloc=True, static_shape=True)
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.01,
                                                          'momentum': 0.9})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    x = np.random.uniform(size=(batch, 3, 32, 32))
    y = np.array(list(range(10)) * (batch // 10) + list(range(batch % 10)))
    devices = ga.parse_devices('cpu')

    def step():
        ga.train_batch_ch13(net, x, y, loss, trainer, devices)   # waits: float() of the loss
    return step, gflop, batch


GEMM_SIZES = (1024, 2048, 4096)   # n of the n x n products gemm_gflops tries


def gemm_gflops(dtype, sizes=GEMM_SIZES, repeats=5):
    """This machine's best GEMM rate in `dtype`, GFLOP/s: the fastest of n x n matrix
    products over `sizes` (each the median of `repeats`); one size alone can land on a
    slow kernel path (2048 in bfloat16 measured 231 and 358 GFLOP/s on one EPYC)."""
    import mxnet as mx
    from mxnet.contrib.amp.amp import bfloat16
    best = 0.0
    for n in sizes:
        a = mx.nd.random.uniform(shape=(n, n))
        b = mx.nd.random.uniform(shape=(n, n))
        if dtype == 'float32':
            def run():
                mx.nd.dot(a, b).wait_to_read()
        else:
            a16, b16 = (mx.nd.amp_cast(m, dtype=bfloat16) for m in (a, b))

            def run():
                mx.nd.FullyConnected(a16, b16, num_hidden=n, no_bias=True).wait_to_read()
        best = max(best, 2 * n ** 3 / benchlib.median_time(run, repeats, warmup=1) / 1e9)
    return best


def child(dtype, models, steps):
    if dtype == 'bfloat16':
        amx.enable_amx()   # before MXNet loads; False where the CPU has no AMX
    out = {'gemm': gemm_gflops(dtype),
           'isa': os.environ.get('DNNL_MAX_CPU_ISA') or 'default'}
    for model in models:
        seconds, gflop, batch = step_seconds(model, dtype, steps)
        out[model] = {'seconds': seconds, 'gflop_per_image': gflop, 'batch': batch}
    return out


def get_args_parser():
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--models', nargs='+', default=list(BATCH), metavar='MODEL[:BATCH]',
                   help='default: %(default)s, at batch 256 and 250')
    p.add_argument('--steps', type=benchlib.positive_int, default=7,
                   help='timed steps per median (default: 7)')
    p.add_argument('--no-write', action='store_true', help='print the table only')
    p.add_argument('--child', choices=('float32', 'bfloat16'), help=argparse.SUPPRESS)
    return p


def main(argv=None):
    cli.configure_threads()   # before MXNet loads (inherited by the children)
    p = get_args_parser()
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.models, args.steps)))
        return 0
    check_models(p, args.models)   # here, not by type: a child loads MXNet after AMX is on
    machine = benchlib.machine()   # before the runs: it records the load average
    dtypes = machine_dtypes()
    results = {}
    for dtype in dtypes:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), '--child', dtype,
                               '--steps', str(args.steps), '--models', *args.models],
                              capture_output=True, text=True)
        if proc.returncode:
            return cli.fail(PROG, f"the {dtype} run failed: "
                                  f"{(proc.stderr.strip().splitlines() or ['?'])[-1]}", 1)
        results[dtype] = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = [f"| GEMM, best of n = {', '.join(map(str, GEMM_SIZES))} | {d} ({results[d]['isa']}) | | | "
            f"{results[d]['gemm']:.0f} | 100 % |" for d in dtypes]
    for model in args.models:
        for d in dtypes:
            r = results[d][model]
            rate = r['gflop_per_image'] * r['batch'] / r['seconds']
            speed = results['float32'][model]['seconds'] / r['seconds']
            rows.append(f"| {model.partition(':')[0]} step, batch {r['batch']} | {d} | {r['seconds'] * 1e3:.0f} ms "
                        f"| {r['batch'] / r['seconds']:.0f} ({speed:.2f}x float32) | {rate:.0f} "
                        f"| {100 * rate / results[d]['gemm']:.0f} % |")
    md = '\n'.join([
        '## Whole training steps: float32 and bfloat16', '',
        f"Command: `{' '.join(['python', PROG, benchlib.shown_args(argv)]).strip()}`. "
        f"Machine: {machine}.", '',
        "Median of the step's wall time over the timed steps; GFLOP/s from the layers' "
        "multiply-adds (forward and both backward passes: 6 FLOP per MAC); the last column "
        "is the step's rate as a share of the same type's GEMM rate measured in the same "
        "process.", '',
        '| what | type | time | images/sec | GFLOP/s | of GEMM |', '|---|---|---|---|---|---|',
        *rows])
    return benchlib.report('bench_dtype', md, write=not args.no_write)


if __name__ == '__main__':
    sys.exit(main())
