"""The chapter's demonstration: ``apply`` an augmenter to one photo, 2x4 times;
and a preset's preview: the same images augmented one at a time and as a batch."""
import textwrap

import numpy as onp

from ._mxnet import gluon, image, np
from .batch_presets import get_batch_preset
from .errors import UsageError
from .plotting import plt, show_images
from .presets import describe_presets, eval_transform, get_preset
from .seeding import seed_everything
from .transforms import RandomColorJitter

T = gluon.data.vision.transforms


def apply(img, aug, num_rows=2, num_cols=4, scale=1.5):
    """Apply `aug` num_rows*num_cols times to `img` and show the results
    (d2l, sec_image_augmentation)."""
    Y = [aug(img) for _ in range(num_rows * num_cols)]
    show_images(Y, num_rows, num_cols, scale=scale)


def chapter_augmenters():
    """The augmenters the chapter shows on its cat photo, in the book's order.

    Returns a dict ``name -> (title, augmenter)``.
    """
    shape_aug = T.RandomResizedCrop((200, 200), scale=(0.1, 1), ratio=(0.5, 2))
    # departure: the hue last, by RandomHue: MXNet 1.x's fused jitter can segfault
    # (transforms.RandomColorJitter; about once per 1,000 calls on this photo)
    color_aug = RandomColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.5)
    return {
        'flip_left_right': ('RandomFlipLeftRight()', T.RandomFlipLeftRight()),
        'flip_top_bottom': ('RandomFlipTopBottom()', T.RandomFlipTopBottom()),
        'resized_crop': ('RandomResizedCrop((200, 200), scale=(0.1, 1), ratio=(0.5, 2))',
                         shape_aug),
        'brightness': ('RandomBrightness(0.5)', T.RandomBrightness(0.5)),
        'hue': ('RandomHue(0.5)', T.RandomHue(0.5)),
        'color_jitter': ('RandomColorJitter(0.5, 0.5, 0.5, 0.5)', color_aug),
        'composed': ('Compose([RandomFlipLeftRight(), color_aug, shape_aug])',
                     T.Compose([T.RandomFlipLeftRight(), color_aug, shape_aug])),
    }


def read_image(path):
    """Read an image file as an HWC uint8 array, or raise UsageError naming it."""
    import os
    if not os.path.isfile(path):
        raise UsageError(f"image {path!r} does not exist; pass --image PATH of a JPEG or PNG")
    try:
        return image.imread(path)
    except Exception as err:  # OpenCV cannot decode it
        raise UsageError(f"cannot read {path!r} as an image ({type(err).__name__}); "
                         "pass a JPEG or PNG file") from None


def preset_rows(images, name, draws=2, seed=0):
    """The rows of preset `name`'s preview, drawn from `seed`.

    `images`: HWC uint8 images of one size. Rows: the originals; `draws`
    rows augmented one image at a time by ``get_preset(name)`` (the
    DataLoader's path); `draws` rows augmented as one batch by
    ``get_batch_preset(name)`` after ToTensor (the ``--aug-backend batch``
    path). Returns ``[(row title, [CHW float images in [0, 1]])]``.
    """
    sample_aug, batch_aug = get_preset(name), get_batch_preset(name)  # UsageError if unknown
    to_tensor = eval_transform()
    batch = np.stack([to_tensor(img) for img in images])
    rows = [('original', list(batch))]
    seed_everything(seed)
    rows += [(f'per-sample {k + 1}', [sample_aug(img) for img in images]) for k in range(draws)]
    rows += [(f'batched {k + 1}', list(batch_aug(batch))) for k in range(draws)]
    return rows


def show_preset(images, name, draws=2, seed=0, scale=1.2):
    """Draw ``preset_rows(images, name, draws, seed)``, one titled row per entry;
    returns the pyplot figure."""
    rows = preset_rows(images, name, draws, seed)
    fig, axes = plt.subplots(len(rows), 1, squeeze=False,
                             figsize=(len(images) * scale + 1.2, len(rows) * scale + 0.6))
    for ax, (title, imgs) in zip(axes[:, 0], rows):
        ax.imshow(strip(imgs), interpolation='nearest')   # one image a row: fast to draw
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
        ax.set_ylabel(title, rotation=0, ha='right', va='center', fontsize=9)
    doc = dict(describe_presets())[name]
    fig.suptitle(textwrap.fill(f'{name}: {doc}', 90), fontsize=9)
    return fig


def strip(imgs, gap=2):
    """CHW float images of one size side by side as one HWC image, `gap` white pixels apart."""
    c, h, w = imgs[0].shape
    out = onp.ones((h, len(imgs) * (w + gap) - gap, c), dtype=onp.float32)
    for k, img in enumerate(imgs):
        out[:, k * (w + gap):k * (w + gap) + w] = img.asnumpy().transpose(1, 2, 0).clip(0, 1)
    return out
