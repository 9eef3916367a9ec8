"""Every augmentation preset as a batched, on-device ``BatchPipeline``.

``get_batch_preset(name)`` builds the twin of preset `name` by translating
that preset's own per-sample steps (``presets.PRESETS``) one by one
(``to_batch``), so the parameters cannot drift. ``run.batch_step.BatchSplit``
turns one into the ``split_f`` that ``train_batch_ch13`` calls: split the batch
across the devices, then augment each shard on its device.
"""
from ..._mxnet import gluon
from ...errors import UsageError
from ..policies.base import ImagePolicy
from ..presets import PRESETS
from ..transforms import RandomColorJitter, RandomErasing, RandomPadCrop
from .blocks import (BatchErasing, BatchFlipLeftRight, BatchFlipTopBottom, BatchNormalize,
                     BatchPadCrop, BatchPipeline, BatchResizedCrop)
from .color import BatchColorJitter
from .policies import twin_of

T = gluon.data.vision.transforms


def to_batch(step):
    """The batched twin of one per-sample step of a preset (None for ToTensor)."""
    if isinstance(step, T.ToTensor):
        return None
    if isinstance(step, T.RandomFlipLeftRight):
        return BatchFlipLeftRight()
    if isinstance(step, T.RandomFlipTopBottom):
        return BatchFlipTopBottom()
    if isinstance(step, RandomPadCrop):
        return BatchPadCrop(step.pad)
    if isinstance(step, (T.RandomColorJitter, RandomColorJitter)):   # (b, c, s, hue)
        return BatchColorJitter(*step._args)   # ours draws the order as Gluon's does
    if isinstance(step, T.RandomResizedCrop):
        size, scale, ratio, interpolation = step._args
        if interpolation != 1:
            raise ValueError(f"no batched twin of {step!r}: only bilinear (1) resizing")
        return BatchResizedCrop(size, scale, ratio)
    if isinstance(step, RandomErasing):
        return BatchErasing(step.p, step.scale, step.ratio, step.value)
    if isinstance(step, ImagePolicy):
        return twin_of(step)
    raise ValueError(f"no batched twin of the per-sample step {step!r}")


def _twin(factory):
    def make():
        return [b for b in map(to_batch, factory()) if b is not None]
    make.__doc__ = factory.__doc__
    return make


def _translates(factory):
    """Whether every step of the preset has a batched twin."""
    try:
        _twin(factory)()
    except ValueError:
        return False
    return True


# name -> factory of the batched steps, translated from presets.PRESETS; a preset
# with a step that has no twin would run per sample only (none has today).
BATCH_PRESETS = {name: _twin(factory) for name, factory in PRESETS.items()
                 if _translates(factory)}


def check_batch_preset(name):
    """UsageError unless preset `name` exists and has a batched twin."""
    if name in PRESETS and name not in BATCH_PRESETS:
        raise UsageError(f"--aug {name} has no batched twin yet; run it with --aug-backend "
                         f"sample (the default)")
    if name not in BATCH_PRESETS:
        raise UsageError(f"unknown augmentation preset {name!r}; choose one of: "
                         f"{', '.join(BATCH_PRESETS)}")


def get_batch_preset(name, normalize=False):
    """A ready ``BatchPipeline`` augmenting NCHW [0, 1] batches as preset `name` does.

    With `normalize`, CIFAR-10's channel standardization runs last, as in
    ``presets.get_preset``. Call ``.hybridize()`` on it for speed.
    """
    check_batch_preset(name)
    factory = BATCH_PRESETS[name]
    seq = BatchPipeline()
    steps = factory() + ([BatchNormalize()] if normalize else [])
    if steps:
        seq.add(*steps)
    return seq
