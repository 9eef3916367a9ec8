"""gluon_aug: the MXNet Gluon path of d2l.ai's "Image Augmentation", as a package.

Importing it switches MXNet to numpy mode (``npx.set_np()``), as the book's
MXNet chapters do, and gives glibc's malloc one arena (``_mxnet.ONE_ARENA``; off with
``GLUON_AUG_ONE_ARENA=0``: large batches then run up to 4x slower in some processes,
docs/PERFORMANCE.md). It changes nothing else. The book's names are re-exported
here; the code lives in subpackages by role (docs/CODE_MAP.md).
"""
from ._version import __version__  # noqa: F401
from . import _mxnet  # noqa: F401  (clear error if MXNet is missing; npx.set_np())
from .augment.policies import AugMix, AutoAugment, RandAugment, TrivialAugmentWide  # noqa: E402
from .augment.presets import PRESETS, get_preset  # noqa: E402
from .book.ch13 import (evaluate_accuracy_gpus, load_cifar10, test_augs,  # noqa: E402
                        train_augs, train_batch_ch13, train_ch13, train_with_data_aug)
from .book.devices import parse_devices, split_batch, try_all_gpus, try_gpu  # noqa: E402
from .book.gallery import apply  # noqa: E402
from .book.metrics import Accumulator, Timer, accuracy  # noqa: E402
from .book.plotting import Animator, set_figsize, show_images  # noqa: E402
from .book.resnet import Residual, resnet18  # noqa: E402
from .data.cifar import CIFAR10, get_dataloader_workers  # noqa: E402
from .errors import RunError, UsageError  # noqa: E402
from .models.zoo import get_model  # noqa: E402
from .results.evaluate import evaluate_run  # noqa: E402
from .results.export import export_run  # noqa: E402
from .results.predict import predict_images  # noqa: E402
from .run.cifar import resume_cifar, run_cifar  # noqa: E402
from .run.config import RunConfig  # noqa: E402
from .run.loop import fit  # noqa: E402
from .seeding import seed_everything  # noqa: E402

__all__ = [
    'Accumulator', 'Animator', 'AugMix', 'AutoAugment', 'CIFAR10', 'PRESETS', 'RandAugment',
    'Residual', 'RunConfig', 'RunError', 'Timer', 'TrivialAugmentWide', 'UsageError',
    'accuracy', 'apply', 'evaluate_accuracy_gpus', 'evaluate_run', 'export_run', 'fit',
    'get_dataloader_workers', 'get_model', 'get_preset', 'load_cifar10', 'parse_devices',
    'predict_images', 'resnet18', 'resume_cifar', 'run_cifar',
    'seed_everything', 'set_figsize', 'show_images', 'split_batch', 'test_augs',
    'train_augs', 'train_batch_ch13', 'train_ch13', 'train_with_data_aug', 'try_all_gpus',
    'try_gpu',
]
