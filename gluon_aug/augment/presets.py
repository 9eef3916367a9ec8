"""CIFAR-10 augmentation presets: each defined once, looked up by name.

``--aug NAME`` takes its choices from ``PRESETS``, so help text, errors and
the code cannot drift apart. A preset maps an HWC uint8 image to a CHW
float32 tensor in [0, 1] (or, with ``normalize=True``, standardized with
CIFAR-10's channel statistics). The test pipeline is always deterministic
(ToTensor, optionally Normalize), as the book insists.
"""
from .._mxnet import gluon
from ..errors import UsageError
from .policies import AugMix, AutoAugment, RandAugment, TrivialAugmentWide
from .transforms import RandomColorJitter, RandomErasing, RandomPadCrop

T = gluon.data.vision.transforms

# Per-channel mean and standard deviation of CIFAR-10's 50,000 training images.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def make_none():
    """ToTensor only: no augmentation (the book's test_augs)."""
    return []


def make_flip():
    """RandomFlipLeftRight (p=0.5): the book's train_augs."""
    return [T.RandomFlipLeftRight()]


def make_flip_crop():
    """RandomPadCrop(pad=4) (translate by up to 4 px, zero fill) + RandomFlipLeftRight: the CIFAR standard."""
    return [RandomPadCrop(pad=4), T.RandomFlipLeftRight()]


def make_flip_color():
    """RandomFlipLeftRight + RandomColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1) (crash-free, see augment/transforms.py)."""
    return [T.RandomFlipLeftRight(),
            RandomColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)]


def make_resized_crop():
    """RandomResizedCrop((32, 32), scale=(0.25, 1), ratio=(3/4, 4/3)) + RandomFlipLeftRight."""
    return [T.RandomResizedCrop((32, 32), scale=(0.25, 1.0), ratio=(3 / 4, 4 / 3)),
            T.RandomFlipLeftRight()]


def make_erasing():
    """RandomFlipLeftRight + RandomErasing(p=0.5, scale=(0.02, 0.4), ratio=(0.3, 3.33), value=0) after ToTensor."""
    return [T.RandomFlipLeftRight(), T.ToTensor(), RandomErasing()]


def make_book_all():
    """The chapter's composed augs at 32x32: RandomFlipLeftRight + RandomColorJitter(0.5, 0.5, 0.5, 0.5) (crash-free) + RandomResizedCrop((32, 32), scale=(0.1, 1), ratio=(0.5, 2))."""
    return [T.RandomFlipLeftRight(),
            RandomColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.5),
            T.RandomResizedCrop((32, 32), scale=(0.1, 1), ratio=(0.5, 2))]


def make_autoaugment():
    """AutoAugment's CIFAR-10 policy (25 sub-policies, Cubuk et al. 2019), then RandomPadCrop(pad=4) + RandomFlipLeftRight, in the authors' order (augment/policies/autoaugment.py)."""
    return [AutoAugment(), RandomPadCrop(pad=4), T.RandomFlipLeftRight()]


def make_randaugment():
    """RandAugment(N=3, M=5) (Cubuk et al. 2020), then RandomPadCrop(pad=4) + RandomFlipLeftRight (augment/policies/randaugment.py)."""
    return [RandAugment(num_ops=3, magnitude=5), RandomPadCrop(pad=4), T.RandomFlipLeftRight()]


def make_trivialaugment():
    """TrivialAugmentWide (one op, wide ranges; Müller & Hutter 2021), then RandomPadCrop(pad=4) + RandomFlipLeftRight, in the authors' order (augment/policies/trivialaugment.py)."""
    return [TrivialAugmentWide(), RandomPadCrop(pad=4), T.RandomFlipLeftRight()]


def make_augmix():
    """RandomFlipLeftRight + RandomPadCrop(pad=4), then AugMix(severity=3, width=3, depth 1-3, alpha=1) (Hendrycks et al. 2020; no JSD loss), in the authors' order (augment/policies/augmix.py)."""
    return [T.RandomFlipLeftRight(), RandomPadCrop(pad=4), AugMix()]


# name -> factory of the augmentation steps (before ToTensor unless they include
# it); the factory's docstring is the preset's documentation.
PRESETS = {
    'none': make_none,
    'flip': make_flip,
    'flip-crop': make_flip_crop,
    'flip-color': make_flip_color,
    'resized-crop': make_resized_crop,
    'erasing': make_erasing,
    'book-all': make_book_all,
    'autoaugment': make_autoaugment,
    'randaugment': make_randaugment,
    'trivialaugment': make_trivialaugment,
    'augmix': make_augmix,
}


def _finish(steps, normalize):
    if not any(isinstance(s, T.ToTensor) for s in steps):
        steps = steps + [T.ToTensor()]
    if normalize:
        steps = steps + [T.Normalize(CIFAR10_MEAN, CIFAR10_STD)]
    return T.Compose(steps)


def get_preset(name, normalize=False):
    """Build a fresh training transform for preset `name` (see ``PRESETS``)."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise UsageError(f"unknown augmentation preset {name!r}; choose one of: "
                         f"{', '.join(PRESETS)}") from None
    return _finish(factory(), normalize)


def eval_transform(normalize=False):
    """The deterministic test-time transform (ToTensor[, Normalize]), whatever the preset."""
    return _finish([], normalize)


def describe_presets():
    """[(name, one-line description)] in registry order."""
    return [(name, ' '.join(factory.__doc__.split())) for name, factory in PRESETS.items()]
