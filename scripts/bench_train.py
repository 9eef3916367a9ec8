"""The training loop's overhead over the bare compute step, per backend and mode.

    python scripts/bench_train.py        # the book's ResNet-18 and flip: ~18 minutes on 2 cores
    python scripts/bench_train.py --model cifar_resnet20_v1 --batches 8 --repeats 3   # ~5 minutes

Full loop: what ``train.cifar`` runs for one epoch's training part (DataLoader,
augmentation per sample in workers or per batch on the device, split across
devices, ``train_batch_ch13``, metric sums), timed end to end. Bare step:
``train_batch_ch13`` on one in-memory batch of the same shape, no loading and
no augmentation. Overhead = 1 - loop/bare. Writes its section of docs/BENCHMARKS.md.
"""
import os
import sys

import benchlib
from train import cli

PROG = 'scripts/bench_train.py'
SUBSET = os.path.join(os.path.dirname(benchlib.ROOT), 'shared', 'data', 'cifar10-subset')


def get_args_parser():
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--model', type=benchlib.model, default='resnet18',
                   help="default: the book's (train.cifar's)")
    p.add_argument('--aug', type=benchlib.preset, default='flip',
                   help='preset (default: flip, the book\'s)')
    p.add_argument('--data', type=benchlib.cifar_folder, default=SUBSET)
    p.add_argument('-b', '--batch-size', type=benchlib.positive_int, default=256)
    p.add_argument('--batches', type=benchlib.positive_int, default=6,
                   help='batches per measurement')
    p.add_argument('--devices', default='cpu')
    p.add_argument('-j', '--num-workers', type=benchlib.count, default=2)
    p.add_argument('--repeats', type=benchlib.positive_int, default=2)
    p.add_argument('--no-write', action='store_true')
    return p


def main(argv=None):
    cli.configure_threads()   # before MXNet loads
    p = get_args_parser()
    args = p.parse_args(argv)

    import gluon_aug as ga
    from gluon_aug._mxnet import gluon, init, np
    from gluon_aug.augment.batch.presets import get_batch_preset
    from gluon_aug.augment.presets import eval_transform
    from gluon_aug.run.batch_step import BatchSplit as batch_split
    from gluon_aug.data.loaders import cifar_loader
    timeout = ga.RunConfig().loader_timeout
    try:
        devices = ga.parse_devices(args.devices)
    except ga.UsageError as err:
        return cli.fail(PROG, err)
    n = args.batch_size * args.batches
    machine = benchlib.machine()   # before the runs: it records the load average
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    rows = []
    for hybridize in (True, False):
        for backend in ('sample', 'batch'):
            ga.seed_everything(0)
            net = ga.get_model(args.model)
            net.initialize(init.Xavier(), ctx=devices)
            net(np.zeros((1, 3, 32, 32), ctx=devices[0]))
            if hybridize:
                net.hybridize(static_alloc=True, static_shape=True)
            trainer = gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': 1e-3})
            if backend == 'sample':
                augs, split_f = ga.get_preset(args.aug), ga.split_batch
            else:
                aug = get_batch_preset(args.aug)
                aug.hybridize(static_alloc=True, static_shape=True)
                augs, split_f = eval_transform(), batch_split(aug)
            loader = cifar_loader(True, augs, args.batch_size, args.data, timeout=timeout,
                                  num_workers=args.num_workers, limit=n, seed=0)

            def loop():
                metric = ga.Accumulator(4)
                for X, y in loader:
                    l, acc = ga.train_batch_ch13(net, X, y, loss, trainer, devices, split_f)
                    metric.add(l, acc, y.shape[0], y.size)
            X, y = next(iter(cifar_loader(True, ga.test_augs, args.batch_size, args.data,
                                          timeout=timeout, num_workers=0,
                                          limit=args.batch_size, seed=0)))

            def bare():
                for _ in range(args.batches):
                    ga.train_batch_ch13(net, X, y, loss, trainer, devices)
            t_loop = benchlib.median_time(loop, args.repeats)
            t_bare = benchlib.median_time(bare, args.repeats)
            row = (backend, 'hybridized' if hybridize else 'imperative', n / t_loop, n / t_bare,
                   100 * (1 - t_bare / t_loop))
            rows.append(row)
            print(f'{row[0]:6s} {row[1]:10s} loop {row[2]:7.1f} img/s  bare step {row[3]:7.1f} '
                  f'img/s  overhead {row[4]:5.1f}%', flush=True)
            del loader
    table = ['| backend | mode | full loop (img/s) | bare step (img/s) | loop overhead |',
             '|---|---|---|---|---|']
    table += [f'| {r[0]} | {r[1]} | {r[2]:.1f} | {r[3]:.1f} | {r[4]:.1f}% |' for r in rows]
    md = '\n'.join([
        '## Training loop overhead', '',
        f"Command: `python scripts/bench_train.py {benchlib.shown_args(argv)}`. "
        f"Model {args.model}, preset {args.aug}, batch {args.batch_size}, devices "
        f"{devices}, {args.num_workers} loader workers, {args.batches} batches a measurement, "
        f"medians over {args.repeats}. Machine: {machine}.", '', *table, '',
        'The batch backend augments inside the step, so its bare-step column (no '
        'augmentation) is the same computation as the sample backend\'s; its overhead '
        'includes the on-device augmentation.'])
    return benchlib.report('bench_train', md, write=not args.no_write)


if __name__ == '__main__':
    sys.exit(main())
