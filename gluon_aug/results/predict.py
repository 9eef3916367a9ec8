"""Classify your own images with a trained run: the top classes and their probabilities.

``predict_images(path, images)`` is what ``python -m train.predict`` calls.
A CIFAR-10 model sees 32x32 images of one small, centred object, so each
JPEG or PNG (a regular file of at most ``MAX_BYTES``, at most ``MAX_DECODED``
decoded) is brought to that form the usual way for evaluation: turned upright
(EXIF orientation) and to 8-bit RGB (16-bit greys scaled, not clipped), its
centred square cut out and resized to 32x32 (area interpolation: each pixel
averages those it covers); then the run's test transform (ToTensor, and
Normalize if the run used --normalize). The net is the run's published
model (``trained.inference_net``: model.params).
"""
import contextlib
import io
import json
import math
import os
import stat
import warnings

import numpy as onp

from .._mxnet import np
from ..augment.presets import eval_transform
from ..data.cifar import CLASSES
from ..errors import UsageError
from .run_folder import inference_net, open_run

SIZE = 32    # CIFAR-10's images are 32x32
TOP = 3      # classes shown per image
MAX_BYTES = 64 * 2 ** 20   # larger files are refused unread
# Larger images (width x height x bytes a pixel) are refused before decoding: Pillow's
# own bound (89.5 Mpx, a quarter GiB of 8-bit RGB; a 48-megapixel photo takes 138 MiB)
# counted in bytes, so that 16-bit and 4-band images are bounded too. Reading holds at
# most about twice this (a rotated photo; Pillow keeps RGB and LA in 4 bytes a pixel).
MAX_DECODED = 256 * 2 ** 20
STRIP = 256   # rows converted to RGB at a time: at most 16 MiB under MAX_DECODED
# The first bytes of the formats we read (OpenCV would read more, untested here)
SIGNATURES = {b'\xff\xd8\xff': 'JPEG', b'\x89PNG\r\n\x1a\n': 'PNG'}


def read_image_bytes(path, limit=None):
    """The bytes of the regular file `path`, at most `limit` (default ``MAX_BYTES``);
    UsageError for anything else (a folder, a device such as /dev/zero, a FIFO, a
    larger file)."""
    limit = MAX_BYTES if limit is None else limit
    try:
        info = os.stat(path)   # follows a symlink to what it names
    except OSError as err:
        raise UsageError(f"cannot read image {path!r} ({err.strerror or err}); pass a JPEG "
                         "or PNG file") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"image {path!r} is not a regular file; pass a JPEG or PNG file")
    if info.st_size > limit:
        raise UsageError(f"image {path!r} is {info.st_size / 2 ** 20:.0f} MiB, more than the "
                         f"{limit // 2 ** 20} MiB read; pass a smaller JPEG or PNG file")
    try:
        with open(path, 'rb') as f:
            return f.read(limit + 1)[:limit]
    except OSError as err:
        raise UsageError(f"cannot read image {path!r} ({err.strerror or err}); pass a JPEG "
                         "or PNG file") from None


def decoded_bytes(img):
    """The bytes `img` (opened, not yet decoded) takes decoded: width x height x
    samples per pixel x bytes per sample of its mode (a 1-bit pixel takes a byte,
    as in Pillow)."""
    from PIL import ImageMode
    mode = ImageMode.getmode(img.mode)
    width, height = img.size
    return width * height * len(mode.bands) * onp.dtype(mode.typestr).itemsize


def check_decoded_size(path, img, limit=None):
    """UsageError, before decoding, if `img` would take more than `limit` (default
    ``MAX_DECODED``) decoded: a small PNG of zeros can claim 13000x13000 16-bit pixels."""
    limit = MAX_DECODED if limit is None else limit
    size = decoded_bytes(img)
    if size > limit:
        width, height = img.size
        mib = math.ceil(size / 2 ** 20 * 10) / 10   # rounded up: never shown as the limit
        raise UsageError(f"image {path!r} is {width}x{height} pixels of mode {img.mode}, "
                         f"{mib:.1f} MiB decoded, more than the {limit / 2 ** 20:g} MiB "
                         "limit; pass a smaller JPEG or PNG file")


@contextlib.contextmanager
def own_size_check():
    """Pillow's decompression-bomb check off (and its warning filtered): it counts
    pixels, not bytes (so misses a 16-bit bomb), warns on stderr at 89 Mpx, and
    would call a big image a damaged one; ``check_decoded_size`` replaces it."""
    from PIL import Image
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def to_rgb(img):
    """`img` in 8-bit RGB; 16-bit greys scaled down, not clipped."""
    from PIL import Image
    if img.mode in ('I', 'I;16', 'I;16B', 'I;16L', 'I;16N'):   # 16-bit grey PNGs
        wide = onp.asarray(img, dtype=onp.uint32)
        img = Image.fromarray(((wide * 255 + 32767) // 65535).astype(onp.uint8))
    return img.convert('RGB')   # grey, palette, alpha


def centred_square_resized(img, size=SIZE):
    """The centred square of `img` (as large as fits) in 8-bit RGB, resized to
    size x size by area averaging (BOX), ``STRIP`` rows at a time. Pillow resizes
    along the rows first, then along the columns (rounding to 8 bits between), so
    resizing each strip's rows and then the column of strips gives the pixels of
    one resize of the whole square, without the whole square in RGB (4 bytes a
    pixel: 4 times a grey or palette image) or a copy of it."""
    from PIL import Image
    w, h = img.size
    side = min(w, h)   # the square first: a 1 x 500000 image stays small
    left, top = (w - side) // 2, (h - side) // 2
    column = Image.new('RGB', (size, side))
    for y in range(top, top + side, STRIP):
        strip = to_rgb(img.crop((left, y, left + side, min(y + STRIP, top + side))))
        column.paste(strip.resize((size, strip.height), Image.Resampling.BOX), (0, y - top))
    return column.resize((size, size), Image.Resampling.BOX)


def read_as_cifar_image(path, size=SIZE):
    """A JPEG or PNG file as a (size, size, 3) uint8 RGB array (see the module
    docstring); UsageError for a missing, unreadable, non-image or too large file."""
    from PIL import Image, ImageOps  # Pillow comes with matplotlib
    raw = read_image_bytes(path)
    if not any(raw.startswith(sig) for sig in SIGNATURES):
        raise UsageError(f"{path!r} is not a JPEG or PNG image; pass a JPEG or PNG file")
    buffer = io.BytesIO(raw)
    with own_size_check():
        try:
            img = Image.open(buffer)   # reads the header only
        except (OSError, ValueError) as err:
            raise damaged(path, buffer, err) from None
        check_decoded_size(path, img)
        try:
            ImageOps.exif_transpose(img, in_place=True)   # a phone's rotation
            img = centred_square_resized(img, size)
        except (OSError, ValueError) as err:
            raise damaged(path, buffer, err) from None
    return onp.asarray(img, dtype=onp.uint8)


def damaged(path, buffer, err):
    """The UsageError for Pillow's `err` on the file `path` read into `buffer`."""
    reason = str(err).replace(repr(buffer), repr(path))   # Pillow names its buffer
    return UsageError(f"{path!r} is a damaged or unsupported image ({reason}); pass "
                      "another JPEG or PNG file")


def predict_probabilities(net, images, normalize=False):
    """Class probabilities (N, classes) of `images` ((N, 32, 32, 3) uint8 HWC), with
    the test transform of a run with `normalize`."""
    transform = eval_transform(normalize)
    ctx = list(net.collect_params().values())[0].list_ctx()[0]
    X = np.stack([transform(np.array(img, dtype=onp.uint8)) for img in images]).as_in_context(
        ctx)
    return softmax(net(X).asnumpy())


def softmax(logits):
    """Softmax over classes, in float64 on the host."""
    e = onp.exp(logits.astype(onp.float64) - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def top_classes(probabilities, top=TOP):
    """[(class name, probability)] of the `top` most probable classes, best first."""
    order = onp.argsort(-probabilities, kind='stable')[:top]
    return [(CLASSES[i], float(probabilities[i])) for i in order]


def predict_images(path, images, as_json=False, top=TOP):
    """Print the `top` classes of each image file in `images` for the run in `path`
    (as JSON with `as_json`); every image is read before anything is printed.
    Returns [{'image', 'top': [{'class', 'probability'}]}]."""
    run = open_run(path)
    if not images:
        raise UsageError("no image given; pass one or more JPEG or PNG files")
    pixels = onp.stack([read_as_cifar_image(p) for p in images])
    probabilities = predict_probabilities(inference_net(run), pixels, run.config.normalize)
    results = [{'image': p, 'top': [{'class': c, 'probability': q}
                                    for c, q in top_classes(row, top)]}
               for p, row in zip(images, probabilities)]
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        width = max(len(p) for p in images)
        for r in results:
            tops = ', '.join(f"{t['class']} {t['probability']:.3f}" for t in r['top'])
            print(f"{r['image']:<{width}}  {tops}")
    return results
