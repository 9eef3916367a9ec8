"""Augmentation policies from the literature, per sample (one HWC image in
``transform_first``): AutoAugment's CIFAR-10 policy, RandAugment,
TrivialAugmentWide and AugMix, each in a module of its own naming its
source, over the image ops they share (``ops``, written once, in NumPy).
Part of the augment layer: imports only the core modules; ``presets`` puts
them behind ``--aug``.
"""
from .augmix import AugMix
from .autoaugment import AutoAugment
from .randaugment import RandAugment
from .trivialaugment import TrivialAugmentWide

__all__ = ['AutoAugment', 'RandAugment', 'TrivialAugmentWide', 'AugMix']
