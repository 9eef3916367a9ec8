"""The first 32 CIFAR-10 training images in a 4x8 grid with their class names.

    python scripts/show_cifar.py --data ../shared/data/cifar10-subset --out docs/cifar_first32.png

Without --data, reads Gluon's location (downloading there if needed), as the book does.
"""
import os
import sys

import benchlib
from train import cli

PROG = 'scripts/show_cifar.py'


def get_args_parser():
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--data', default=None, metavar='DIR',
                   help='folder with data_batch_*.bin and test_batch.bin')
    p.add_argument('--out', required=True, metavar='PNG', help='where to save the figure')
    return p


def main(argv=None):
    p = get_args_parser()
    args = p.parse_args(argv)
    cli.configure_threads()
    gluon_aug = cli.import_library(PROG)
    from gluon_aug.data.cifar import CLASSES
    from gluon_aug.book.plotting import plt
    try:
        images = gluon_aug.CIFAR10(args.data, train=True)
    except gluon_aug.UsageError as err:
        return cli.fail(PROG, err)
    n = min(32, len(images))
    samples = [images[i] for i in range(n)]
    axes = gluon_aug.show_images([x for x, _ in samples], 4, 8,
                                 titles=[CLASSES[int(y)] for _, y in samples],
                                 scale=1.2)  # departure: the book has 0.8 and no titles
    for ax in axes:
        ax.title.set_fontsize(8)
    plt.subplots_adjust(hspace=0.4)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        plt.savefig(args.out, dpi=70, bbox_inches='tight')
    except OSError as err:
        return cli.fail(PROG, f"cannot write --out {args.out!r} ({err.strerror})")
    print(args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
