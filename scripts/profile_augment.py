"""Where the batched augmentation's time goes: its operators against a copy of the batch.

    python scripts/profile_augment.py                 # a few minutes on 2 cores
    python scripts/profile_augment.py --sizes 224 --presets flip erasing --no-write

Two tables, each row measured in its own process (a crash or a hang loses one row,
and says why), at 224x224 (batch 32) and 32x32 (batch 256), NCHW float32:

1. **Kernels**: what MXNet's CPU operators cost on the batch, in milliseconds
   per batch and as a multiple of a copy of it (``np.copy``: one read and one
   write, the floor of any augmentation that writes a new batch). These decide
   how the batched twins are written (``augment/batch/``). Below them, the
   policies' stage kernel (``kernels.cc``) running each op it holds on every image:
   what a stage of a policy costs, op by op.
2. **Presets**: each preset's batched twin (``get_batch_preset``, hybridized with
   static_alloc as training runs it), profiled with MXNet's profiler (bulk
   execution off, so every operator is seen): the milliseconds per batch of
   the whole twin and of its costliest operators, with how often each runs per
   batch, against the same copy.

Writes its section of docs/BENCHMARKS.md.
"""
import os
import sys

import benchlib
from train import cli

PROG = 'scripts/profile_augment.py'
BATCH = {32: 256, 224: 32}
CALLS = 10        # calls in a row per timing, one wait at the end (as a training loop queues them)
TOP = 4           # operators named per preset
LIMIT = 600       # seconds per row before it is reported as too slow


def kernels(x):
    """name -> (function of the block's inputs, extra inputs): the candidate operators.
    The extra inputs are made once, outside the timing, as a twin's draws would be."""
    import numpy as onp
    from gluon_aug._mxnet import np
    n, c, h, w = x.shape
    rng = onp.random.RandomState(0)
    per_sample = np.array(rng.uniform(size=(n, 1, 1, 1)).astype('float32'))
    plane_mask = np.array((rng.uniform(size=(n, 1, h, w)) < 0.5).astype('float32'))
    bits = np.array((rng.uniform(size=(n,)) < 0.5).astype('float32'))
    full = np.array(rng.permutation(n * c * h * w).reshape(n, c, h, w).astype('int32'))
    rows = np.array(rng.permutation(n * c * h).astype('int32'))
    # the rows of the batch with H and W swapped that a flip of every other image reads
    j = onp.arange(w)
    flip_rows = np.array(onp.concatenate([(k * w + (j[::-1] if (k // c) % 2 else j))
                                          for k in range(n * c)]).astype('int32'))
    theta = np.array(onp.tile([1, 0, 0.02, 0, 1, -0.02], (n, 1)).astype('float32'))
    weights = np.array(rng.uniform(size=(n, c, 32, h)).astype('float32'))
    row_mask = np.array((rng.uniform(size=(n, 1, h, 1)) < 0.5).astype('float32'))
    mix = np.array(rng.uniform(size=(n, c, c)).astype('float32'))           # per-sample 3x3
    conv_w = np.array(rng.uniform(size=(n * c, c, 1, 1)).astype('float32'))  # the same, grouped
    conv_b = np.array(rng.uniform(size=(n * c,)).astype('float32'))

    def nd(v):
        return v.as_nd_ndarray()

    def swap(F, v):   # H and W
        return F.transpose(v, axes=(0, 1, 3, 2))

    def legacy(fn):   # a legacy (mx.nd/mx.sym) operator on numpy-mode arrays
        return lambda F, *a: fn(F, *map(nd, a)).as_np_ndarray()
    return {
        'copy (np.copy)': (lambda F, x: F.np.copy(x), ()),
        'x * 2': (lambda F, x: x * 2, ()),
        'x + x (same shape)': (lambda F, x: x + x, ()),
        'clip(x, 0, 1)': (lambda F, x: F.np.clip(x, 0, 1), ()),
        'x * (N,1,1,1) (broadcast)': (lambda F, x, s: x * s, (per_sample,)),
        'x * (N,1,H,W) (broadcast)': (lambda F, x, m: x * m, (plane_mask,)),
        'x * (N,1,H,1) (broadcast)': (lambda F, x, m: x * m, (row_mask,)),
        'broadcast_mul (legacy) by (N,1,H,W)': (legacy(lambda F, x, m: F.broadcast_mul(x, m)),
                                                (plane_mask,)),
        'broadcast_axis (N,1,H,W) to C': (legacy(lambda F, x, m: F.broadcast_axis(
            m, axis=1, size=c)), (plane_mask,)),
        'broadcast_axis to C, then x * m': (legacy(lambda F, x, m: x * F.broadcast_axis(
            m, axis=1, size=c)), (plane_mask,)),
        'where, same-shape condition': (legacy(lambda F, x: F.where(x > 0.5, x * 2, x)), ()),
        'where, (N,) condition': (legacy(lambda F, x, b: F.where(b, x * 2, x)), (bits,)),
        'flip by a 0/1 blend (the old twin\'s): m * x[..., ::-1] + (1 - m) * x': (
            lambda F, x, s: s * x[:, :, :, ::-1] + (1 - s) * x, (per_sample,)),
        'flip: where((N,), reverse(x), x)': (legacy(lambda F, x, b: F.where(
            b, F.reverse(x, axis=3), x)), (bits,)),
        'flip: where((N,), x[..., ::-1], x)': (legacy(lambda F, x, b: F.where(
            b, F.slice(x, begin=(None,) * 4, end=(None,) * 4, step=(1, 1, 1, -1)), x)),
            (bits,)),
        'flip: transpose, take rows, transpose (the twin\'s)': (legacy(lambda F, x, r: swap(
            F, F.reshape_like(F.take(F.reshape(swap(F, x), (-1, h)), r), swap(F, x)))),
            (flip_rows,)),
        'x[..., ::-1] (slice)': (lambda F, x: x[:, :, :, ::-1], ()),
        'reverse (axis 3)': (legacy(lambda F, x: F.reverse(x, axis=3)), ()),
        'pad 4 px (constant)': (legacy(lambda F, x: F.pad(
            x, mode='constant', pad_width=(0, 0, 0, 0, 4, 4, 4, 4))), ()),
        'take rows (axis 0)': (legacy(lambda F, x, r: F.take(
            F.reshape(x, (-1, w)), r)), (rows,)),
        'take elements (int32 index)': (legacy(lambda F, x, i: F.take(
            F.reshape(x, (-1,)), i)), (full,)),
        'transpose to NHWC': (lambda F, x: F.np.transpose(x, (0, 2, 3, 1)), ()),
        'transpose H and W (legacy)': (legacy(lambda F, x: F.transpose(x, axes=(0, 1, 3, 2))),
                                       ()),
        'GridGenerator + BilinearSampler': (legacy(lambda F, x, t: F.BilinearSampler(
            x, F.GridGenerator(t, transform_type='affine', target_shape=(h, w)))), (theta,)),
        'matmul (N,C,32,H) @ x': (lambda F, x, wy: F.np.matmul(wy, x), (weights,)),
        'matmul (N,3,3) @ (N,3,HW)': (lambda F, x, a: F.npx.reshape_like(F.np.matmul(
            a, F.npx.reshape(x, (-2, -2, -1))), x), (mix,)),
        'batch_dot (N,3,3) @ (N,3,HW) (the twin\'s)': (lambda F, x, a: F.npx.reshape_like(
            F.npx.batch_dot(a, F.npx.reshape(x, (-2, -2, -1))), x), (mix,)),
        'grouped 1x1 conv: per-sample 3x3 and bias': (legacy(lambda F, x, wt, b: F.reshape_like(
            F.Convolution(F.reshape(x, (1, -1, h, w)), wt, b, kernel=(1, 1), num_filter=n * c,
                          num_group=n), x)), (conv_w, conv_b)),
        'image means: matmul with ones': (lambda F, x: F.np.matmul(
            F.npx.reshape(x, (-5, -5)), F.np.ones((h * w, 1))), ()),
        'image means: np.mean over H, W': (lambda F, x: F.np.mean(x, axis=(2, 3)), ()),
        'astype uint8': (lambda F, x: x.astype('uint8'), ()),
        **stage_kernels(x, legacy),
    }


def stage_cases(h, w):
    """[(name, the policy-stage kernel's op code, value, affine matrix, bilinear)]: each op
    a policy stage can run, with a typical value (the matrices about the image's centre)."""
    import math
    from gluon_aug.augment.batch.policy_ops import AFFINE, KERNEL_OPS
    cx, cy = w / 2, h / 2
    identity = [1, 0, 0, 0, 1, 0]
    cos, sin = math.cos(math.radians(30)), math.sin(math.radians(30))
    geometric = {'identity matrix': identity, 'ShearX 0.3': [1, 0.3, -0.3 * cy, 0, 1, 0],
                 'Rotate 30': [cos, sin, cx - cos * cx - sin * cy,
                               -sin, cos, cy + sin * cx - cos * cy]}
    values = {'Identity': 0, 'Color': 1.5, 'Contrast': 1.5, 'Brightness': 1.5,
              'Sharpness': 1.5, 'Posterize': 4, 'Solarize': 128, 'Equalize': 0,
              'AutoContrast': 0, 'Invert': 0}
    return ([(name, KERNEL_OPS[name], value, identity, 0) for name, value in values.items()]
            + [(f'affine, {how}: {name}', AFFINE, 0, m, int(how == 'bilinear'))
               for how in ('nearest', 'bilinear') for name, m in geometric.items()])


def stage_kernels(x, legacy):
    """The policy-stage kernel (augment/batch/kernels.cc) running one op on every image,
    as candidate operators; none where the kernels cannot be built here."""
    import numpy as onp
    from gluon_aug._mxnet import np
    from gluon_aug.augment.batch import native
    if not native.available():
        return {}
    n, _, h, w = x.shape
    out = {}
    for name, code, value, matrix, bilinear in stage_cases(h, w):
        params = np.array(onp.tile([code, value] + matrix, (n, 1)).astype('float32'))
        out[f'policy stage kernel, every image: {name}'] = (legacy(
            lambda F, x, p, b=bilinear: F.gluon_aug_policy_stage(x, p, bilinear=b)), (params,))
    return out


def stream_time(block, inputs, repeats):
    """Median seconds of CALLS calls of `block` in a row (one wait at the end), per call."""
    def stream():
        for _ in range(CALLS):
            out = block(*inputs)
        out.wait_to_read()
    return benchlib.median_time(stream, repeats, warmup=2) / CALLS


def batch_of(size):
    import numpy as onp
    from gluon_aug._mxnet import np
    rng = onp.random.RandomState(0)
    return np.array(rng.uniform(size=(BATCH[size], 3, size, size)).astype('float32'))


def lambda_block(fn):
    from gluon_aug._mxnet import nn
    block = nn.HybridLambda(fn)
    block.hybridize(static_alloc=True, static_shape=True)
    return block


def measure_kernels(size, repeats):
    """{name: ms per batch (or why not measured)} of every candidate kernel at `size`."""
    x = batch_of(size)
    out = {}
    for name, (fn, extra) in kernels(x).items():
        try:
            out[name] = 1e3 * stream_time(lambda_block(fn), (x, *extra), repeats)
        except Exception as err:   # an operator this build lacks: say so, measure the rest
            out[name] = f'{type(err).__name__}: {str(err).splitlines()[0][:80]}'
    return out


def profile_preset(name, size, repeats):
    """(ms per batch of the twin, ms per batch of a copy, [(operator, calls per batch, ms per
    batch)] costliest first)."""
    import json
    from gluon_aug._mxnet import mx
    from gluon_aug.augment.batch.presets import get_batch_preset
    x = batch_of(size)
    aug = get_batch_preset(name)
    aug.hybridize(static_alloc=True, static_shape=True)
    copy_block = lambda_block(lambda F, x: F.np.copy(x))
    before = stream_time(copy_block, (x,), repeats)
    total = 1e3 * stream_time(aug, (x,), repeats)
    # the faster of a copy before and one after the twin, as bench_augment takes it (a
    # copy after some twins has read several times slower)
    copy = 1e3 * min(before, stream_time(copy_block, (x,), repeats))
    ops = benchlib.profile_operators(mx, lambda: aug(x), CALLS * repeats)
    return total, copy, ops


def child(kind, name, size, repeats):
    import json
    if kind == 'kernels':
        return json.dumps(measure_kernels(size, repeats))
    return json.dumps(profile_preset(name, size, repeats))


def run_child(argv, limit):
    """(result, None) of this script run as a child with `argv`, or (None, why it gave none);
    bulk execution off, so that the profiler sees every operator."""
    return benchlib.child_result([sys.executable, os.path.abspath(__file__), *argv], limit,
                                 env={'MXNET_EXEC_BULK_EXEC_INFERENCE': '0',
                                      'MXNET_EXEC_BULK_EXEC_TRAIN': '0'})


def cell(text):
    return str(text).replace('|', '/')


def get_args_parser():
    import argparse
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--presets', nargs='+', type=benchlib.preset, default=None)
    p.add_argument('--sizes', nargs='+', type=int, choices=sorted(BATCH), default=[224, 32])
    p.add_argument('--repeats', type=benchlib.positive_int, default=5)
    p.add_argument('--limit', type=benchlib.positive_int, default=LIMIT,
                   help='seconds per row before it is reported as too slow (default: %(default)s)')
    p.add_argument('--no-write', action='store_true', help='print only')
    p.add_argument('--child', nargs=3, metavar=('KIND', 'PRESET', 'SIZE'), help=argparse.SUPPRESS)
    return p


def main(argv=None):
    cli.configure_threads()   # before MXNet loads
    p = get_args_parser()
    args = p.parse_args(argv)
    if args.child:
        kind, name, size = args.child
        print(child(kind, name, int(size), args.repeats))
        return 0
    from gluon_aug import PRESETS
    machine = benchlib.machine()
    common = ['--repeats', str(args.repeats)]
    kernel_rows, names = {}, None
    for size in args.sizes:
        result, why = run_child(['--child', 'kernels', '-', str(size)] + common, args.limit)
        kernel_rows[size] = result or {'(all)': why}
        names = names or list(kernel_rows[size])
        print(size, kernel_rows[size], flush=True)
    command = f'python {PROG} {benchlib.shown_args(argv or sys.argv[1:])}'.strip()
    lines = ['## Where the batched augmentation\'s time goes', '',
             f"Command: `{command}`. "
             f'Machine: {machine}.', '',
             'NCHW float32 batches: 32 images at 224x224, 256 at 32x32. Milliseconds per '
             f'batch (median of {args.repeats} timings of {CALLS} calls in a row, hybridized '
             'with static_alloc), and in brackets the multiple of a copy of the batch (one '
             'read, one write: the floor of an augmentation that writes a new batch; for a '
             'preset, the faster of a copy before and one after its twin). The profiler '
             'runs with bulk execution off, so its operators\' times add overhead the '
             'timings without it do not have.', '',
             '### Kernels', '',
             '| operator | ' + ' | '.join(f'{s}x{s}, batch {BATCH[s]}' for s in args.sizes) + ' |',
             '|---|' + '---|' * len(args.sizes)]
    for name in sorted(set().union(*kernel_rows.values()), key=lambda n: (
            names.index(n) if n in names else len(names))):
        cells = []
        for size in args.sizes:
            value, copy = kernel_rows[size].get(name), kernel_rows[size].get('copy (np.copy)')
            cells.append(cell(value) if not isinstance(value, float) else
                         f'{value:.2f} ms ({value / copy:.1f}x)' if isinstance(copy, float)
                         else f'{value:.2f} ms')
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    lines += ['', '### Presets (batched twins)', '',
              '| preset | size | ms per batch (x copy) | operators run per batch | costliest '
              'operators: calls per batch, ms per batch |', '|---|---|---|---|---|']
    for size in args.sizes:
        for name in args.presets or list(PRESETS):
            result, why = run_child(['--child', 'preset', name, str(size)] + common,
                                    args.limit)
            if result is None:
                lines.append(f'| {name} | {size}x{size} | not measured: {cell(why)} | | |')
            else:
                total, copy, ops = result
                top = ', '.join(f'`{op}` x{count:g}: {ms:.2f}' for op, count, ms in ops[:TOP])
                lines.append(f'| {name} | {size}x{size} | {total:.2f} ({total / copy:.1f}x) '
                             f'| {sum(count for _, count, _ in ops):.0f} | {top} |')
            print(lines[-1], flush=True)
    return benchlib.report('profile_augment', '\n'.join(lines), write=not args.no_write)


if __name__ == '__main__':
    sys.exit(main())
