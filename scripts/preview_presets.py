"""One picture per augmentation preset (per-sample and batched twins side by side)
and per batch mixer (MixUp, CutMix).

    python scripts/preview_presets.py --data ../shared/data/cifar10-subset --out docs/presets

Writes <preset>.png for every name in gluon_aug.augment.presets.PRESETS. Each shows
the first 8 training images, then 2 rows augmented one image at a time by
get_preset(name) (the DataLoader's path, --aug-backend sample) and 2 rows
augmented as one ToTensor'd batch by get_batch_preset(name) (--aug-backend
batch), seeded. The twins should look alike in distribution: the same kinds
of flips, shifts, crops and colour changes, not the same draws. mixup.png and
cutmix.png show the originals, then two batches mixed at alpha 1 (as --mixup 1
and --cutmix 1 do in the training step), each titled with its lambda.
"""
import os
import sys

import benchlib
from train import cli

PROG = 'scripts/preview_presets.py'


def get_args_parser():
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--data', required=True, metavar='DIR',
                   help='folder with data_batch_*.bin and test_batch.bin')
    p.add_argument('--out', required=True, metavar='DIR', help='folder for the PNGs')
    p.add_argument('-n', '--images', type=benchlib.positive_int, default=8,
                   help='images per row (default: 8)')
    p.add_argument('--seed', type=benchlib.seed, default=0, help='random seed (default: 0)')
    return p


def main(argv=None):
    p = get_args_parser()
    args = p.parse_args(argv)
    cli.configure_threads()
    gluon_aug = cli.import_library(PROG)
    from gluon_aug.augment.preview import MIXES, show_preset
    from gluon_aug.book.plotting import plt
    try:
        dataset = gluon_aug.CIFAR10(args.data, train=True)
    except gluon_aug.UsageError as err:
        return cli.fail(PROG, err)
    try:
        os.makedirs(args.out, exist_ok=True)
        if not os.access(args.out, os.W_OK):
            raise PermissionError(13, 'Permission denied')
    except OSError as err:
        return cli.fail(PROG, f"cannot write to --out {args.out!r} ({err.strerror})")
    images = [dataset[i][0] for i in range(min(args.images, len(dataset)))]
    for name in (*gluon_aug.PRESETS, *MIXES):
        fig = show_preset(images, name, seed=args.seed)
        path = os.path.join(args.out, f'{name}.png')
        try:
            fig.savefig(path, dpi=90, bbox_inches='tight')
        except OSError as err:
            return cli.fail(PROG, f"cannot write {path!r} ({err.strerror})")
        finally:
            plt.close(fig)
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
