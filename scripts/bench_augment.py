"""Per-sample augmentation (transform_first + DataLoader) against its batched twin.

    python scripts/bench_augment.py               # about 10 minutes on 2 cores
    python scripts/bench_augment.py --quick       # a smoke run

For each preset and image size (32x32, 224x224): images/second of the
per-sample path (Gluon transforms in a DataLoader with 0 and N worker
processes, uint8 HWC in, float CHW batches out) and of the batched twin
(``get_batch_preset``, hybridized, on an NCHW float batch already on the
device), medians over repeats, and their ratio; and the batched twin's
speed as a fraction of the memory-bandwidth floor, a copy of the same batch
(``np.copy``, hybridized, timed the same way in the same process). Each row runs
in its own process; one that fails or takes longer than --limit seconds is
reported with its reason. Writes its section of docs/BENCHMARKS.md.
"""
import os
import sys

import benchlib
from train import cli


LIMIT = 900   # seconds per row (one preset at one size) before it is reported as too slow


CALLS = 10   # batches per timing of the fused twin and the copy, queued as training does


def measure(name, size, workers, repeats, quick):
    """(per-sample img/s with 0 workers, with `workers`, batched img/s, the same with
    MXNet's operators only, copy img/s) for one preset."""
    import numpy as onp
    from gluon_aug import get_preset
    from gluon_aug._mxnet import gluon, np
    from gluon_aug.augment.batch import native
    from gluon_aug.augment.batch.presets import get_batch_preset
    n = (256 if size == 32 else 64) if quick else (2048 if size == 32 else 256)
    batch = 256 if size == 32 else 32
    rng = onp.random.RandomState(0)
    dataset = gluon.data.SimpleDataset(
        [np.array(rng.randint(0, 256, (size, size, 3)), dtype='uint8') for _ in range(n)])
    X = np.array(rng.uniform(size=(batch, 3, size, size)).astype('float32'))
    aug = get_batch_preset(name)
    copy = gluon.nn.HybridLambda(lambda F, x: F.np.copy(x))   # the floor: one read, one write
    speeds = []
    # the twins and the copy first, before the per-sample loaders: after a loader with
    # workers and then one without, this process's copies ran 10x slower and the twins
    # 1.5x (seen at 224x224 with glibc's default malloc arenas, before gluon_aug set
    # one: docs/PERFORMANCE.md#memory). The copy before and after the twins, the faster
    # taken; MXNet's operators only, a reference that takes minutes a call for a policy
    # at 224x224, are timed on fewer calls
    for block, fused, calls, times in ((copy, True, CALLS, 15), (aug, True, CALLS, 15),
                                       (aug, False, 1, 3), (copy, True, CALLS, 15)):
        native.use(fused)   # the fused kernels where they load, then MXNet's operators only
        block.hybridize(static_alloc=True, static_shape=True)

        def stream():   # batches one after another, as a training loop feeds them
            for _ in range(calls):
                out = block(X)
            out.wait_to_read()
        speeds.append(calls * batch / benchlib.median_time(
            stream, max(times, repeats) if fused else times, warmup=2 if fused else 1))
    per_sample = {}
    # (The colour presets once "hung" here: MXNet 1.x's fused RandomColorJitter
    # segfaults on rare pixels, apache/mxnet#18986; the presets now use
    # transforms.RandomColorJitter, see scripts/repro_jitter_hang.py.)
    for w in (workers, 0):
        loader = gluon.data.DataLoader(dataset.transform(get_preset(name)), batch_size=batch,
                                       num_workers=w)

        def epoch():
            for out in loader:
                out.wait_to_read()
        per_sample[w] = n / benchlib.median_time(epoch, repeats)
        del loader
    return [per_sample[0], per_sample[workers], speeds[1], speeds[2], max(speeds[0], speeds[3])]


def fused_line():
    """Whether the fused kernels load here, in a few words (the report's text)."""
    from gluon_aug.augment.batch import native
    return ('augment/batch/kernels.cc, built here' if native.available() else
            f"not here: {native._loaded.get('why')}; MXNet's operators ran")


def get_args_parser():
    import argparse
    p = benchlib.ArgumentParser(prog='scripts/bench_augment.py',
                                description=__doc__.split('\n\n')[0])
    p.add_argument('--presets', nargs='+', type=benchlib.preset, default=None)
    p.add_argument('--sizes', nargs='+', type=benchlib.positive_int, default=[32, 224])
    p.add_argument('--workers', type=benchlib.count, default=2, help='N for the N-worker column')
    p.add_argument('--repeats', type=benchlib.positive_int, default=5)
    p.add_argument('--quick', action='store_true', help='few images, one repeat')
    p.add_argument('--limit', type=benchlib.positive_int, default=LIMIT,
                   help='seconds per row before it is reported as too slow (default: %(default)s)')
    p.add_argument('--no-write', action='store_true', help='print only')
    p.add_argument('--child', nargs=2, metavar=('PRESET', 'SIZE'), help=argparse.SUPPRESS)
    return p


def main(argv=None):
    cli.configure_threads()   # before MXNet loads
    import json
    p = get_args_parser()
    args = p.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    if args.child:  # one measurement per process: a crash (MXNet forks) loses one row only
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.workers, repeats,
                                 args.quick)))
        return 0

    from gluon_aug import PRESETS
    machine = benchlib.machine()   # before the runs: it records the load average
    rows = []
    for size in args.sizes:
        for name in args.presets or list(PRESETS):
            cmd = [sys.executable, os.path.abspath(__file__), '--child', name, str(size),
                   '--workers', str(args.workers), '--repeats', str(repeats)]
            result, why = benchlib.child_result(cmd + (['--quick'] if args.quick else []),
                                                args.limit)
            if why:
                why = f'not measured: {why}'.replace('|', '/')
                rows.append(f'| {name} | {size}x{size} | {why} | | | | | | |')
                print(name, size, why, flush=True)
                continue
            s0, sn, b, ops, floor = result
            rows.append(f'| {name} | {size}x{size} | {s0:.0f} | {sn:.0f} | {b:.0f} | '
                        f'{b / max(s0, sn):.1f}x | {ops:.0f} | {floor:.0f} | {b / floor:.2f} |')
            print(rows[-1], flush=True)
    table = ['| preset | size | per-sample, 0 workers (img/s) | per-sample, '
             f'{args.workers} workers (img/s) | batched (img/s) | batched / best per-sample | '
             "batched, MXNet's operators only (img/s) | copy of the batch (img/s) | "
             'batched / copy |',
             '|---|---|---|---|---|---|---|---|---|', *rows]
    md = '\n'.join([
        '## Augmentation throughput: per sample vs batched', '',
        f"Command: `python scripts/bench_augment.py {benchlib.shown_args(argv)}`. "
        f'Machine: {machine}.', '',
        'Per sample: the preset\'s Gluon transforms through `Dataset.transform` and a '
        'DataLoader (uint8 HWC in, float CHW batches out). Batched: the preset\'s twin from '
        '`gluon_aug.augment.batch.presets.get_batch_preset`, on an NCHW float batch already '
        'on the device (batch 256 at 32x32, 32 at 224x224), hybridized with static_alloc as '
        f'`train.cifar` runs it, timed over {CALLS} calls in a row (one wait at the end, as a '
        'training loop queues them); the loader\'s ToTensor is not counted there. It runs '
        f"the fused CPU kernels ({fused_line()}); the next column is the same twin with "
        "MXNet's operators only (`native.use(False)`; one call per timing, median of 3). Copy: "
        '`np.copy` of the same batch, timed the same way: the memory-bandwidth floor of an '
        'augmentation that writes a new batch, so batched / copy is the fraction of the '
        f'floor reached. Medians over {repeats} repeats (per sample) and 15 (batched and '
        'copy, cheap to repeat); each row in its own process, the twins and the copy '
        'timed first (with glibc\'s default malloc arenas, after a loader with workers '
        'and then one without, a process\'s copies ran 10x slower: PERFORMANCE.md). '
        '`python scripts/profile_augment.py` shows where each twin\'s time goes.', '',
        *table])
    return benchlib.report('bench_augment', md, write=not args.no_write)


if __name__ == '__main__':
    sys.exit(main())
