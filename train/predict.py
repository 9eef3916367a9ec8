"""Classify JPEG or PNG images with a trained run: the top 3 classes and their probabilities.

    python -m train.predict runs/demo ../shared/data/images/cat1.jpg
    python -m train.predict runs/demo a.png b.jpg --json

A CIFAR-10 model knows 10 classes (airplane, automobile, bird, cat, deer,
dog, frog, horse, ship, truck) and was trained on 32x32 images of one small,
centred object: photos like that work best. Each image, of any size, is
turned upright (EXIF) and to RGB, its centred square cut out and resized
to 32x32 (area interpolation), and classified with the run's published model
(model.params) and test transform. Only regular files up to 64 MiB are read,
and only images of at most 256 MiB decoded (width x height x bytes per pixel,
checked from the header before decoding).
"""
import sys

from train import cli

PROG = 'python -m train.predict'
cli.library(PROG)   # the threads before MXNet loads; without MXNet one line, exit 2
from gluon_aug import predict_images  # noqa: E402


def get_args_parser(add_help=True):
    import argparse
    p = cli.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0], add_help=add_help,
                           epilog=__doc__.split('\n\n', 2)[2],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_run_dir(p)
    p.add_argument('images', metavar='IMAGE', nargs='+', help='JPEG or PNG files, any size')
    p.add_argument('--json', dest='as_json', action='store_true', help='print the results as JSON')
    return p


def main(argv=None):
    return cli.call(PROG, predict_images, **vars(get_args_parser().parse_args(argv)))


if __name__ == '__main__':
    sys.exit(main())
