"""CIFAR-10 augmentation presets: each defined once, looked up by name.

``--aug NAME`` takes its choices from ``PRESETS``, so help text, errors and
the code cannot drift apart. A preset maps an HWC uint8 image to a CHW
float32 tensor in [0, 1]; the test pipeline is always deterministic
(``ToTensor`` only), as the book insists.
"""
from ._mxnet import gluon
from .errors import UsageError

T = gluon.data.vision.transforms


def make_none():
    """ToTensor only: no augmentation (the book's test_augs)."""
    return T.Compose([T.ToTensor()])


def make_flip():
    """RandomFlipLeftRight (p=0.5), then ToTensor: the book's train_augs."""
    return T.Compose([T.RandomFlipLeftRight(), T.ToTensor()])


# name -> factory; the factory's docstring is the preset's documentation.
PRESETS = {
    'none': make_none,
    'flip': make_flip,
}


def get_preset(name):
    """Build a fresh training transform for preset `name` (see ``PRESETS``)."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise UsageError(f"unknown augmentation preset {name!r}; choose one of: "
                         f"{', '.join(sorted(PRESETS))}") from None
    return factory()


def eval_transform():
    """The deterministic test-time transform (ToTensor), whatever the preset."""
    return make_none()


# The chapter's two pipelines, under the book's names (sec_image_augmentation).
train_augs = make_flip()
test_augs = make_none()
