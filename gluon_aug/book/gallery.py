"""The chapter's demonstration: ``apply`` an augmenter to one photo, 2x4 times."""
from .._mxnet import gluon, image
from ..augment.transforms import RandomColorJitter
from ..errors import UsageError
from .plotting import show_images

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
    # departure: the crash-free jitter (Gluon's draws): MXNet 1.x's fused one can segfault
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


def read_photo(path):
    """Read an image file as an HWC uint8 array, or raise UsageError naming it."""
    import os
    if not os.path.isfile(path):
        what = ('is a folder, not an image file' if os.path.isdir(path) else
                'is not a regular file' if os.path.exists(path) else 'does not exist')
        raise UsageError(f"image {path!r} {what}; pass --image PATH of a JPEG or PNG")
    try:
        return image.imread(path)
    except Exception as err:  # OpenCV cannot decode it
        raise UsageError(f"cannot read {path!r} as an image ({type(err).__name__}); "
                         "pass a JPEG or PNG file") from None
