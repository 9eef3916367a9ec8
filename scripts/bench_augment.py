"""Per-sample augmentation (transform_first + DataLoader) against its batched twin.

    python scripts/bench_augment.py               # about 10 minutes on 2 cores
    python scripts/bench_augment.py --quick       # a smoke run

For each preset and image size (32x32, 224x224): images/second of the
per-sample path (Gluon transforms in a DataLoader with 0 and N worker
processes, uint8 HWC in, float CHW batches out) and of the batched twin
(``get_batch_preset``, hybridized, on an NCHW float batch already on the
device), medians over repeats, and their ratio. Writes its section of
docs/BENCHMARKS.md.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import train  # noqa: E402,F401  (OMP_NUM_THREADS before MXNet loads)
import benchlib  # noqa: E402


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--presets', nargs='+', default=None)
    p.add_argument('--sizes', nargs='+', type=int, default=[32, 224])
    p.add_argument('--workers', type=int, default=2, help='N for the N-worker column')
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--quick', action='store_true', help='few images, one repeat')
    p.add_argument('--no-write', action='store_true', help='print only')
    args = p.parse_args(argv)

    import numpy as onp
    from gluon_aug import PRESETS, get_preset
    from gluon_aug._mxnet import gluon, mx, np
    from gluon_aug.batch_aug import get_batch_preset
    T = gluon.data.vision.transforms
    presets = args.presets or list(PRESETS)
    repeats = 1 if args.quick else args.repeats
    rows = []
    for size in args.sizes:
        n = (256 if size == 32 else 64) if args.quick else (2048 if size == 32 else 256)
        batch = 256 if size == 32 else 32
        rng = onp.random.RandomState(0)
        images = [np.array(rng.randint(0, 256, (size, size, 3)), dtype='uint8')
                  for _ in range(n)]
        dataset = gluon.data.SimpleDataset(images)
        X = np.array(rng.uniform(size=(batch, 3, size, size)).astype('float32'))
        for name in presets:
            if name == 'resized-crop' or name == 'book-all':
                pass  # both resize back to 32x32 whatever the input: still comparable
            per_sample = {}
            for workers in (0, args.workers):
                loader = gluon.data.DataLoader(dataset.transform(get_preset(name)),
                                               batch_size=batch, num_workers=workers)

                def epoch():
                    for out in loader:
                        out.wait_to_read()
                per_sample[workers] = n / benchlib.median_time(epoch, repeats)
                del loader
            aug = get_batch_preset(name)
            aug.hybridize()

            def batched():
                aug(X).wait_to_read()
            batched_ips = batch / benchlib.median_time(batched, max(3, repeats * 3), warmup=2)
            best = max(per_sample.values())
            rows.append((name, size, per_sample[0], per_sample[args.workers], batched_ips,
                         batched_ips / best))
            print(f'{name:13s} {size:4d}px  per-sample {per_sample[0]:9.0f} (0 workers) '
                  f'{per_sample[args.workers]:9.0f} ({args.workers} workers)  batched '
                  f'{batched_ips:9.0f} img/s  ratio {batched_ips / best:6.1f}x', flush=True)
    table = ['| preset | size | per-sample, 0 workers (img/s) | per-sample, '
             f'{args.workers} workers (img/s) | batched (img/s) | batched / best per-sample |',
             '|---|---|---|---|---|---|']
    table += [f'| {r[0]} | {r[1]}x{r[1]} | {r[2]:.0f} | {r[3]:.0f} | {r[4]:.0f} | {r[5]:.1f}x |'
              for r in rows]
    md = '\n'.join([
        '## Augmentation throughput: per sample vs batched', '',
        f'Command: `python scripts/bench_augment.py{" --quick" if args.quick else ""}`. '
        f'Machine: {benchlib.machine()}.', '',
        'Per sample: the preset\'s Gluon transforms through `Dataset.transform` and a '
        'DataLoader (uint8 HWC in, float CHW batches out). Batched: the preset\'s twin from '
        '`gluon_aug.batch_aug.get_batch_preset`, hybridized, on an NCHW float batch already on '
        'the device (batch 256 at 32x32, 32 at 224x224); the loader\'s ToTensor is not '
        f'counted there. Medians over {repeats} repeats.', '', *table])
    print(md)
    if not args.no_write:
        benchlib.write_section('bench_augment', md)
    return 0


if __name__ == '__main__':
    sys.exit(main())
