"""Evaluate a finished run on its test set, as the book computes accuracy.

    python -m train.evaluate runs/demo
    python -m train.evaluate runs/demo --data ../shared/data/cifar10-subset --out runs/demo-eval

Rebuilds the net from the run's metrics.json and its parameters, prints the
test accuracy (the run's final test accuracy, exactly, on the same data) and
a per-class table, and writes confusion.png, mistakes.png and eval.json into
RUN_DIR/eval (or --out).
"""
import sys

from train import cli

PROG = 'python -m train.evaluate'
cli.library(PROG)   # the threads before MXNet loads; without MXNet one line, exit 2
from gluon_aug import evaluate_run  # noqa: E402


def get_args_parser(add_help=True):
    p = cli.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0], add_help=add_help)
    cli.add_run_dir(p)
    p.add_argument('--data', metavar='DIR', help="folder with CIFAR-10's binary files "
                   "(default: the run's own --data)")
    p.add_argument('--out', metavar='DIR', help='folder for confusion.png, mistakes.png and '
                   'eval.json (default: RUN_DIR/eval)')
    p.add_argument('--tta', type=int, choices=(0, 1, 2), default=None,
                   help="test-time augmentation: 0 none, 1 average the mirrored view, 2 also "
                        "1 px shifts (default: the run's recipe's, as its last evaluation: "
                        "book 0, fast 2)")
    return p


def main(argv=None):
    return cli.call(PROG, evaluate_run, **vars(get_args_parser().parse_args(argv)))


if __name__ == '__main__':
    sys.exit(main())
