"""The chapter's augmentation figures: each augmenter applied 2x4 times to one photo.

    python scripts/augment_gallery.py --image ../shared/data/images/cat1.jpg --out docs/gallery

Writes one PNG per augmenter of d2l.ai's "Image Augmentation" (flip left-right,
flip top-bottom, RandomResizedCrop to 200x200, brightness 0.5, hue 0.5, color
jitter, and the three composed), plus original.png.
"""
import os
import sys

import benchlib
from train import cli

PROG = 'scripts/augment_gallery.py'


def get_args_parser():
    p = benchlib.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    p.add_argument('--image', required=True, help='a JPEG or PNG photo')
    p.add_argument('--out', required=True, metavar='DIR', help='folder for the PNGs')
    p.add_argument('--seed', type=benchlib.seed, default=0, help='random seed (default: 0)')
    return p


def main(argv=None):
    p = get_args_parser()
    args = p.parse_args(argv)
    cli.configure_threads()
    gluon_aug = cli.import_library(PROG)
    from gluon_aug.book.gallery import chapter_augmenters, read_photo
    from gluon_aug.book.plotting import plt
    try:
        img = read_photo(args.image)
        os.makedirs(args.out, exist_ok=True)
    except gluon_aug.UsageError as err:
        return cli.fail(PROG, err)
    except OSError as err:
        return cli.fail(PROG, f"cannot create --out {args.out!r} ({err.strerror})")
    gluon_aug.seed_everything(args.seed)
    gluon_aug.set_figsize()
    plt.imshow(img.asnumpy())
    plt.axis('off')
    plt.savefig(os.path.join(args.out, 'original.png'), dpi=80, bbox_inches='tight')
    plt.close('all')
    for name, (title, aug) in chapter_augmenters().items():
        gluon_aug.apply(img, aug)
        fig = plt.gcf()
        fig.suptitle(title, fontsize=9)
        path = os.path.join(args.out, f'{name}.png')
        fig.savefig(path, dpi=72, bbox_inches='tight')
        plt.close(fig)
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
