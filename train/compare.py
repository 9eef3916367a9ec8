"""The chapter's exercise 1: train with and without augmentation, compare.

    python -m train.compare --augs none flip flip-crop --data ../shared/data/cifar10-subset \\
        --model cifar_resnet20_v1 --epochs 10 --devices cpu:2 --out runs/compare

Trains one freshly initialized net per preset with the same seed, data, model
and budget (every train.cifar flag applies), then writes compare.md (the
table, with the train-test gap), compare.json and compare.png into --out and
prints the table.
"""
import sys

from train import cli

PROG = 'python -m train.compare'
cli.library(PROG)   # the threads before MXNet loads; without MXNet one line, exit 2
from gluon_aug.augment.presets import PRESETS  # noqa: E402
from gluon_aug.run.compare import compare_presets  # noqa: E402
from gluon_aug.run.config import add_arguments, config_from_args  # noqa: E402


def get_args_parser(add_help=True):
    p = cli.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0], add_help=add_help)
    p.add_argument('--augs', nargs='+', required=True, choices=list(PRESETS), metavar='NAME',
                   help=f"presets to compare, e.g. none flip ({', '.join(PRESETS)})")
    p.add_argument('--out', required=True, metavar='DIR',
                   help='folder for compare.md, compare.json, compare.png and one sub-folder '
                        'per preset')
    add_arguments(p, skip=('aug', 'out', 'resume'))
    return p


def main(argv=None):
    args = get_args_parser().parse_args(argv)
    return cli.call(PROG, compare_presets, args.augs, config_from_args(args), print_table=True)


if __name__ == '__main__':
    sys.exit(main())
