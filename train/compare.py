"""The chapter's exercise 1: train with and without augmentation, compare.

    python -m train.compare --augs none flip flip-crop --data ../shared/data/cifar10-subset \\
        --model cifar_resnet20_v1 --epochs 10 --devices cpu:2 --out runs/compare

Trains one freshly initialized net per preset with the same seed, data, model
and budget (every train.cifar flag applies), then writes compare.md (the
table, with the train-test gap), compare.json and compare.png into --out and
prints the table. A comparison stopped part-way (Ctrl-C, SIGTERM, a crash)
continues with `python -m train.compare --resume DIR`: finished arms are kept,
the stopped one resumes from its checkpoint.
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
    p.add_argument('--augs', nargs='+', choices=list(PRESETS), metavar='NAME',
                   help=f"presets to compare, e.g. none flip ({', '.join(PRESETS)}); required")
    p.add_argument('--out', metavar='DIR',
                   help='folder for compare.md, compare.json, compare.png and one sub-folder '
                        'per preset; required')
    p.add_argument('--resume', metavar='DIR',
                   help='continue the comparison stopped in DIR (its --out) with its own '
                        'settings; pass it alone')
    add_arguments(p, skip=('aug', 'out', 'resume'))
    return p


def main(argv=None):
    parser = get_args_parser()
    args = parser.parse_args(argv)
    if args.resume is not None:
        others = sorted(set(cli.given_flags(parser, argv)) - {'resume'})
        if others:
            parser.error(f"--resume takes the comparison's settings from {args.resume}; "
                         f"pass it alone (given too: {', '.join(others)})")
        return cli.call(PROG, compare_presets, None, out=args.resume, print_table=True,
                        resume=True)
    missing = [flag for flag, value in (('--augs', args.augs), ('--out', args.out)) if not value]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)}")
    return cli.call(PROG, compare_presets, args.augs, config_from_args(args), print_table=True)


if __name__ == '__main__':
    sys.exit(main())
