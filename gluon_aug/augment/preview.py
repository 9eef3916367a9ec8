"""Previews: a preset's images augmented one at a time and as a batch; a batch
mixed by MixUp or CutMix, with the label weights of each draw."""
import textwrap

import numpy as onp
from matplotlib import pyplot as plt

from .._mxnet import np
from ..seeding import seed_everything
from .batch.mix import mixers
from .batch.presets import BATCH_PRESETS, get_batch_preset
from .presets import describe_presets, eval_transform, get_preset


def preset_rows(images, name, draws=2, seed=0):
    """The rows of preset `name`'s preview, drawn from `seed`.

    `images`: HWC uint8 images of one size. Rows: the originals; `draws`
    rows augmented one image at a time by ``get_preset(name)`` (the
    DataLoader's path); `draws` rows augmented as one batch by
    ``get_batch_preset(name)`` after ToTensor (the ``--aug-backend batch``
    path; none for the presets without a batched twin). Returns
    ``[(row title, [CHW float images in [0, 1]])]``.
    """
    sample_aug = get_preset(name)  # UsageError if unknown
    batch_aug = get_batch_preset(name) if name in BATCH_PRESETS else None
    to_tensor = eval_transform()
    batch = np.stack([to_tensor(img) for img in images])
    rows = [('original', list(batch))]
    seed_everything(seed)
    rows += [(f'per-sample {k + 1}', [sample_aug(img) for img in images]) for k in range(draws)]
    if batch_aug is not None:
        rows += [(f'batched {k + 1}', list(batch_aug(batch))) for k in range(draws)]
    return rows


MIXES = {'mixup': 'MixUp (--mixup 1): each image lambda x + (1 - lambda) x[partner], '
                  'lambda ~ Beta(1, 1), one draw per batch',
         'cutmix': "CutMix (--cutmix 1): a box of each image from its partner's; "
                   'lambda = the share outside the box'}


def mix_rows(images, name, alpha=1.0, draws=2, seed=0):
    """The rows of the preview of mixer `name` ('mixup' or 'cutmix', at `alpha`): the
    originals (ToTensor'd HWC uint8 `images`), then `draws` batches mixed, each with
    its own draw from a generator seeded with `seed`; each row's title gives lambda,
    the weight of an image's own label (its partner's gets 1 - lambda)."""
    mixer = mixers(**{name: alpha})[0]
    to_tensor = eval_transform()
    batch = np.stack([to_tensor(img) for img in images])
    rng = onp.random.RandomState(seed)
    rows = [('original', list(batch))]
    for k in range(draws):
        mix = mixer.draw(len(images), batch.shape[2], batch.shape[3], rng)
        rows.append((f'draw {k + 1}: own label {mix.lam:.2f}', list(mixer.apply(batch, mix))))
    return rows


def show_preset(images, name, draws=2, seed=0, scale=1.2):
    """Draw ``preset_rows(images, name, draws, seed)`` (or ``mix_rows`` for 'mixup'
    and 'cutmix'), one titled row per entry; returns the pyplot figure."""
    rows = (mix_rows(images, name, draws=draws, seed=seed) if name in MIXES
            else preset_rows(images, name, draws, seed))
    fig, axes = plt.subplots(len(rows), 1, squeeze=False,
                             figsize=(len(images) * scale + 1.2, len(rows) * scale + 0.6))
    for ax, (title, imgs) in zip(axes[:, 0], rows):
        ax.imshow(strip(imgs), interpolation='nearest')   # one image a row: fast to draw
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
        ax.set_ylabel(title, rotation=0, ha='right', va='center', fontsize=9)
    doc = MIXES.get(name) or dict(describe_presets())[name]
    fig.suptitle(textwrap.fill(f'{name}: {doc}', 90), fontsize=9)
    return fig


def strip(imgs, gap=2):
    """CHW float images of one size side by side as one HWC image, `gap` white pixels apart."""
    c, h, w = imgs[0].shape
    out = onp.ones((h, len(imgs) * (w + gap) - gap, c), dtype=onp.float32)
    for k, img in enumerate(imgs):
        out[:, k * (w + gap):k * (w + gap) + w] = img.asnumpy().transpose(1, 2, 0).clip(0, 1)
    return out
