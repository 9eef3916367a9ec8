"""Train on CIFAR-10 with the book's MXNet path (d2l.ai, "Image Augmentation").

The book's experiment (d2l ResNet-18, Adam lr 0.001, batch 256, 10 epochs,
all GPUs, random left-right flips):

    python -m train.cifar --aug flip

A quick run on this repo's 10,000-image subset with a small GluonCV model,
split-batch across two CPU contexts:

    python -m train.cifar --aug flip --data ../shared/data/cifar10-subset \\
        --model cifar_resnet20_v1 --epochs 2 --devices cpu:2 --out runs/demo

Prints the book's two closing lines on stdout, a progress bar on stderr and,
with --out, writes metrics.json and curves.png.
"""
import sys

from train import cli

PROG = 'python -m train.cifar'


def add_run_args(p, include_aug=True):
    """The flags of one training run; train.compare adds them to its own parser."""
    from gluon_aug.presets import PRESETS
    if include_aug:
        p.add_argument('--aug', default='flip', choices=list(PRESETS),
                       help="augmentation preset for training (default: flip, the book's "
                            "train_augs; none = ToTensor only; --list-augs describes them)")
    p.add_argument('--normalize', action='store_true',
                   help="standardize with CIFAR-10's channel mean and std (train and test)")
    p.add_argument('--aug-backend', default='sample', choices=('sample', 'batch'),
                   help="where --aug runs: sample = per image in the loader (default, the "
                        "book's), batch = per device shard inside the training step, "
                        "batched (gluon_aug.batch_aug)")
    p.add_argument('--model', default='resnet18',
                   help='resnet18 (d2l, default) or a GluonCV CIFAR model such as '
                        'cifar_resnet20_v1')
    p.add_argument('--epochs', type=int, default=10, help='epochs (default: 10)')
    p.add_argument('-b', '--batch-size', type=int, default=256,
                   help='batch size, split across devices (default: 256); with a dist_* '
                        '--kvstore it is per worker: the global batch is this x workers')
    p.add_argument('--lr', type=float, default=0.001, help='Adam learning rate (default: 0.001)')
    p.add_argument('--devices', default=None,
                   help='gpu (all), gpu:N (first N), gpu:0,1, gpu(3), cpu, cpu:N '
                        '(N CPU contexts) (default: all GPUs, else cpu)')
    p.add_argument('--data', default=None, metavar='DIR',
                   help='folder with data_batch_*.bin and test_batch.bin (default: '
                        "Gluon's $MXNET_HOME/datasets/cifar10, downloaded if needed)")
    p.add_argument('-j', '--num-workers', type=int, default=None,
                   help='DataLoader worker processes (default: 4, as the book)')
    p.add_argument('--limit-train', type=int, default=None, metavar='N',
                   help='use only the first N training examples')
    p.add_argument('--limit-test', type=int, default=None, metavar='N',
                   help='use only the first N test examples')
    p.add_argument('--overwrite', action='store_true',
                   help='allow --out to replace a previous run')
    p.add_argument('--seed', type=int, default=None,
                   help='random seed (default: drawn, and recorded in metrics.json)')
    p.add_argument('--no-progress', dest='progress', action='store_false',
                   help='hide the progress bar')
    p.add_argument('--thread-pool', action='store_true',
                   help='load with threads instead of worker processes (no shared memory)')
    p.add_argument('--loader-timeout', type=float, default=120, metavar='S',
                   help='seconds a loader worker may take for a batch before the run stops '
                        'with an error (default: 120)')
    return p


def get_args_parser(add_help=True):
    p = cli.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0],
                           add_help=add_help)
    add_run_args(p)
    p.add_argument('--out', default=None, metavar='DIR',
                   help='write metrics.json and curves.png here (refuses a folder '
                        'holding a previous run unless --overwrite)')
    from gluon_aug.distributed import KVSTORES
    p.add_argument('--kvstore', default='device', choices=KVSTORES,
                   help="gluon.Trainer's kvstore (default: device); dist_sync, "
                        "dist_device_sync, dist_async train data-parallel across processes "
                        "or machines: start them with python -m train.launch -n WORKERS -- "
                        "python -m train.cifar ... (README, 'Distributed training')")
    p.add_argument('--resume', default=None, metavar='DIR',
                   help="continue the run whose --out was DIR from its last checkpoint (pass "
                        "the same settings; the result is bitwise identical to an "
                        "uninterrupted run)")
    p.add_argument('--checkpoint-every', type=int, default=None, metavar='N',
                   help='with --out, also checkpoint every N batches (default: each epoch)')
    p.add_argument('--list-augs', action='store_true',
                   help="list the presets and the augmentation classes the installed MXNet "
                        "and GluonCV provide, then exit")
    return p


def main(argv=None):
    gluon_aug = cli.import_library(PROG)
    args = get_args_parser().parse_args(argv)
    if args.list_augs:
        from gluon_aug.catalog import format_catalog
        print(format_catalog())
        return 0
    del args.list_augs
    try:
        gluon_aug.run_cifar(**vars(args))
    except gluon_aug.UsageError as err:
        return cli.fail(PROG, err)
    except gluon_aug.RunError as err:
        cli.fail(PROG, err)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
