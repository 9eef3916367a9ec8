"""gluon_aug: the MXNet Gluon path of d2l.ai's "Image Augmentation", as a package.

Importing it switches MXNet to numpy mode (``npx.set_np()``), as the book's
MXNet chapters do, and changes nothing else. The book's names are re-exported
here; the code lives in small modules (see README's table).
"""
from ._version import __version__  # noqa: F401
from . import _mxnet  # noqa: F401  (clear error if MXNet is missing; npx.set_np())
from .config import RunConfig  # noqa: E402
from .data import CIFAR10, load_cifar10, get_dataloader_workers  # noqa: E402
from .devices import parse_devices, split_batch, try_all_gpus, try_gpu  # noqa: E402
from .engine import (evaluate_accuracy_gpus, train_batch_ch13, train_ch13,  # noqa: E402
                     train_with_data_aug)
from .errors import RunError, UsageError  # noqa: E402
from .export import export_run  # noqa: E402
from .gallery import apply  # noqa: E402
from .inspect_run import evaluate_run  # noqa: E402
from .loop import fit  # noqa: E402
from .metrics import Accumulator, Timer, accuracy  # noqa: E402
from .models import Residual, get_model, resnet18  # noqa: E402
from .plotting import Animator, set_figsize, show_images  # noqa: E402
from .predict import predict_images  # noqa: E402
from .presets import PRESETS, get_preset, test_augs, train_augs  # noqa: E402
from .run import run_cifar  # noqa: E402
from .seeding import seed_everything  # noqa: E402

__all__ = [
    'Accumulator', 'Animator', 'CIFAR10', 'PRESETS', 'Residual', 'RunConfig', 'RunError',
    'Timer', 'UsageError',
    'accuracy', 'apply', 'evaluate_accuracy_gpus', 'evaluate_run', 'export_run', 'fit',
    'get_dataloader_workers', 'get_model', 'get_preset', 'load_cifar10', 'parse_devices',
    'predict_images', 'resnet18', 'run_cifar',
    'seed_everything', 'set_figsize', 'show_images', 'split_batch', 'test_augs',
    'train_augs', 'train_batch_ch13', 'train_ch13', 'train_with_data_aug', 'try_all_gpus',
    'try_gpu',
]
