"""Train on CIFAR-10 with the book's MXNet path (d2l.ai, "Image Augmentation").

The book's experiment (d2l ResNet-18, Adam lr 0.001, batch 256, 10 epochs,
all GPUs, random left-right flips):

    python -m train.cifar --aug flip            # repeatable, resumable, compiled
    python -m train.cifar --book                # the chapter's code path exactly

A quick run on the 10,000-image subset with a small GluonCV model,
split-batch across two CPU contexts:

    python -m train.cifar --aug flip --data ../shared/data/cifar10-subset \\
        --model cifar_resnet20_v1 --epochs 2 --devices cpu:2 --out runs/demo

Prints the book's two closing lines on stdout, a progress bar on stderr and,
with --out, writes metrics.json, curves.png, model.params and checkpoint.npz.
`--resume DIR` continues a run with the settings its checkpoint recorded
(flags given beside it must agree, but for --epochs and how it loads).
"""
import sys

from train import cli

PROG = 'python -m train.cifar'
cli.library(PROG)   # the threads before MXNet loads; without MXNet one line, exit 2
from gluon_aug import resume_cifar, run_cifar  # noqa: E402
from gluon_aug.augment.catalog import format_catalog  # noqa: E402
from gluon_aug.run.config import add_arguments, config_from_args  # noqa: E402


def get_args_parser(add_help=True):
    p = cli.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0], add_help=add_help)
    add_arguments(p)
    p.add_argument('--list-augs', action='store_true',
                   help="list the presets and the augmentation classes the installed MXNet "
                        "and GluonCV provide, then exit")
    return p


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    if args.list_augs:
        print(format_catalog())
        return 0
    if args.resume is not None:   # the run's settings from its checkpoint, unless given
        given = cli.given_flags(get_args_parser(), argv)
        return cli.call(PROG, resume_cifar, given.pop('resume'), **given)
    return cli.call(PROG, run_cifar, config_from_args(args))


if __name__ == '__main__':
    sys.exit(main())
